"""The differential fuzzer: the C sidecar and the Daphne consumer, run on
the same generated handshakes and client messages, must be observed to do
the same (tests/test_differential.py, `make fuzz-diff`)."""
