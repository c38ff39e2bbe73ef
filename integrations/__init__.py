"""Integrations: one package per outside service (its client, its webhook receiver, its auth).

The floor above the core (``hubcourse``) and below the domain: a package here knows its
service's HTTP API and nothing of courses or students. The packages do not import each other.
"""
