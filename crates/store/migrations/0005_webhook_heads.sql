-- Finds the oldest pending delivery of an endpoint in one index lookup.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (environment_id, endpoint_id, event_id) WHERE state = 'pending';
