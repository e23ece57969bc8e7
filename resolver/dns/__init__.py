"""DNS wire format: reading queries and building answers without a full message object."""
