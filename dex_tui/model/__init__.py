"""What the terminal shows, as plain Python: no Textual import here.

The widgets in ``dex_tui.widgets`` only draw these values and post messages; everything
that decides (which levels to show, which trades are new, what an order ticket means, what
happened to a submit) lives here, so it is unit-tested without a screen.
"""
