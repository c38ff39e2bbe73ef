"""Pages of the instructor and the TA: course setup, roster import, the class board, the plan.

Views, forms and templates only: every decision is a service call into ``onboarding`` or the
domain; a form translates a service's validation error into its fields."""
