-- Every authenticated request asks whether its participant was removed from
-- the room (`ParticipantRemoved`): a small partial index answers that without
-- reading the room's other events.
CREATE INDEX events_removals ON events (aggregate_id, ((payload -> 'ParticipantRemoved' ->> 'participant')))
    WHERE event_type = 'ParticipantRemoved';
