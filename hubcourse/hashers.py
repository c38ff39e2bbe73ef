"""Password hashing: Argon2id with OWASP's parameters rather than Django's defaults.

Django's Argon2 hasher asks for 100 MiB and 8 lanes per hash. On a 2-core server that is
0.4-0.8 s of a sign-in (measured: ``bench signin``), and 100 MiB for each sign-in in
flight. OWASP's password storage guidance gives 19 MiB, 2 passes and 1 lane as its first
Argon2id configuration, about ten times cheaper here. The algorithm name stays ``argon2``:
hashes made with Django's defaults still verify, and Django re-hashes them with these
parameters at their owner's next sign-in (``must_update`` compares the parameters).
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class OWASPArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
