"""STS: credentials it hands out are sessions the local cloud accepts."""
