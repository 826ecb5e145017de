"""Throwaway servers (PostgreSQL, Redis) from installed binaries, for tests, benchmarks and demos."""
