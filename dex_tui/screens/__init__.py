"""Modal screens: help, confirmation, amend, and the scenario picker."""
