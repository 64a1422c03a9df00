"""Turning stored metrics into tables and reports."""
