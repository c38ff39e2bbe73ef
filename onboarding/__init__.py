"""The onboarding engine, above the domain and below the pages.

Observe, plan and apply (``engine``), the derived onboarding state (``state``), the per-student
step chains and course tasks (``tasks``), the course workflows that pages and the API share
(``courses``, ``joining``), offboarding as the same engine's removal plan (``offboarding``),
the read models of the class board and the student page (``board``, ``status``), and the
credential checks (``doctor``). Pages and the API call it; it calls the domain.
"""
