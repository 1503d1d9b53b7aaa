"""Unit tests of the emulator layers (a package, so test module names stay unique)."""
