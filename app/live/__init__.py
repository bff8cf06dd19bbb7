"""Live class: the teacher drives, the students' views follow, their predictions come back as
a histogram (issue 16).  This package is the server side, ready to mount beside Streamlit:
``st.App(script, routes=[*app.live.routes.ROUTES, ...])``.

Modules, along the data flow:

- :mod:`~app.live.codes` — class codes (9 symbols without 0/O/1/I/l/L, 44.6 bits, from
  :mod:`secrets`), teacher tokens (256 bits; only their SHA-256 is stored, compared in
  constant time), anonymous student ids, and :class:`~app.live.codes.LiveError`;
- :mod:`~app.live.messages` — every message's schema, checked before it costs anything;
- :mod:`~app.live.broker` — the broker contract and the in-process broker (the default);
  :mod:`~app.live.redis_broker` — the same contract on Redis, for replicas;
- :mod:`~app.live.classroom` — the rules of a class: levers, questions, presence, streams;
- :mod:`~app.live.routes` — the HTTP routes (``ROUTES``) and the broker chosen from the
  environment (``CONVCORE_REDIS_URL``).

Design
------
What the broker stores per class: the teacher token's hash and the open question's answer
(private), the public state (page, URL query, step, Play, reveal, pinned cell, lever, pause
message, question, an answer shown anonymously) with a version number, anonymous student ids
with where an exploring student is and when they were last seen, and the open question's
answers and counts.  No names, no addresses (a client address is used only as a rate-limit
key, which lives for one window).

Time limits: a class with no activity (teacher action, join, answer) for 4 h is gone (every
key carries that TTL, renewed by each activity); an event stream lives 60 s, then the browser
reconnects 0.5 s later (``retry:``) and receives the current state first, so a reconnect or a
latecomer is always in sync and shutdown waits at most 60 s (:func:`~app.live.classroom.
stop_streams` ends streams within ~1 s); heartbeats every 15 s; a student counts as present
45 s after their last heartbeat and is forgotten after 15 min.

Size and rate limits: a configuration of up to 64 KiB of URL query; an exploring student's
report up to 8 KiB; prompts and pause messages 200 characters; answers 64; 500 students per
class; per class 60 teacher actions a second; per student 10 answers and 20 presence reports
in 10 s; per address 20 new classes a minute and 300 joins a minute to one class.

Delivery: each state change is one atomic broker step (patch, version, publish); a stream
forwards patches in version order and, on a gap or an overflow, sends the whole state again.
"""
