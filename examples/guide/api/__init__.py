"""Client for the Flowgate HTTP API (see examples/guide/README.md)."""
