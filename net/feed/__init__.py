"""The websocket market-data feed on ``GET /ws`` (``docs/feed.md``).

Server side: ``net.feed.hub.FeedHub`` (one per peer). Client side: ``net.feed.client``
(``FeedClient``), ``net.feed.localbook`` (``LocalBook``) and ``net.feed.checksum``, which
import nothing of the engine, so a client needs none of it. Nothing is imported here, so that
importing the client side does not load the server side.
"""
