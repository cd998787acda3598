"""The ZeroMQ bridge between a running simulation, viewers and edge agents."""
