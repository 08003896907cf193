-- Host accounts (aggregate type 'Host') live in the same log as the rooms.

-- Signing in finds an account by its e-mail address.
CREATE INDEX events_host_email ON events ((payload -> 'HostAdded' ->> 'email'))
    WHERE event_type = 'HostAdded';

-- A host's dashboard and quotas find the rooms it created.
CREATE INDEX events_room_owner ON events ((payload -> 'RoomCreated' ->> 'owner'))
    WHERE event_type = 'RoomCreated';

-- Deleted rooms: hidden from the dashboard, swept from storage.
CREATE INDEX events_room_deleted ON events (aggregate_id)
    WHERE event_type IN ('RecordingDeleted', 'RecordingSwept');
