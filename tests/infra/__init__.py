"""Loopback test servers (Knot DNS, the DNS proxy): scripts and their Python wrappers."""
