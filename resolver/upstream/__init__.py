"""Forwarding questions to upstream resolvers: servers, their health, the transport, the
per-question state machine (`resolver.upstream.forwarder.Forwarder`)."""
