-- The reconcilers' scans of the log (nats/src/duties.rs): every process that
-- owns a duty (completion after the grace period, rendering, projection
-- freshness) asks Postgres what is due, at start-up and periodically, instead
-- of trusting that one JetStream message will arrive.

-- "Which rooms had events lately" (projection freshness).
CREATE INDEX events_recorded_at ON events (recorded_at);

-- "The latest duty event of each room" (completion and render): only the few
-- events that start or end a duty are indexed.
CREATE INDEX events_duties ON events (aggregate_type, aggregate_id, sequence DESC)
    WHERE event_type IN ('RecordingStopped', 'SessionCompleted', 'RenderRequested',
                         'RenderStarted', 'RenderCompleted', 'RenderFailed');
