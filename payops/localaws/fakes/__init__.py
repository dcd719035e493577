"""Fakes of what the local AWS talks to outside AWS: the Stripe API (fake_stripe.py), fed by a
catalogue of Stripe objects (stripe_catalogue.py); and the chat and ticket APIs, Slack, Teams,
Backlog and GitHub (fake_partners.py)."""
