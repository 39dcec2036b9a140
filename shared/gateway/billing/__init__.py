"""The spend pipeline's I/O: sending each request's spend event (queue, emit) and
applying events to the table exactly once (ledger, apply, alerts, consumer)."""
