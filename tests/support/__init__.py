"""Test support: real servers the tests start on loopback."""
