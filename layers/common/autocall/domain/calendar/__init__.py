"""Calendar and time arithmetic in one place, pure functions of their arguments: calling windows
and openings (``windows``), the fan-out's dial-slot grid (``slots``), the day arithmetic that speech
and booking need (``days``), when things happen after a call (``timing``) and how a moment is said
to a callee (``phrasing``)."""
