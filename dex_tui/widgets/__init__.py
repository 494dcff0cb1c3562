"""The terminal's panels. They draw what ``dex_tui.model`` computed and post messages
about what the user did; none of them talks to the peer or decides anything."""
