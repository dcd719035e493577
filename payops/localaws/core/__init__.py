"""Shared by every service: the patch helper, resource base classes, the registry, the pins."""
