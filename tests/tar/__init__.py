"""Tests of the shared tar header decoder (``ais_tar``) and of every reader built on it."""
