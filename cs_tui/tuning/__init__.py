"""``cs-tui tune``'s core: hyperparameter studies on Optuna, each trial an ordinary run folder.

A study lives in an Optuna storage: by default an SQLite file in the saves folder
(``saves/.studies/studies.db``, several processes on one host share it safely), or any URL Optuna
accepts (``postgresql://…`` to spread one study over many hosts). A worker (:func:`run_worker`) takes
trials until the study holds ``trials`` complete or pruned ones. Each trial:

1. draws its hyperparameters from ``search_space.toml`` (Optuna's TPE sampler);
2. trains them with :func:`cs_tui.training.trainer.train` into ``saves/<study>-t<NNNN>/`` (meta.json,
   metrics stream, models: ``evaluate``, ``test``, the app and ``--resume`` work on it unchanged),
   reporting each evaluation's % of oracle to Optuna and stopping as ``pruned`` when the median pruner
   says so;
3. scores its ``best.zip`` on held-out conversations (seed :data:`HOLDOUT_SEED`, which no trial trains
   or is evaluated on during training): the figure ``cs-tui evaluate RUN --seed 1000000000`` prints.
   That % of oracle is the trial's value.

Faults: every running trial beats a heartbeat into the storage; a trial whose worker died (``kill -9``,
a lost host) goes stale, is marked failed and retried with the same hyperparameters
(``RetryHeartbeatStaleTrialCallback``). SIGINT/SIGTERM/SIGHUP stop a worker: its trial's run folder is
checkpointed and marked interrupted, the trial failed (marked ``interrupted``), and its parameters are
tried again first when the study goes on (re-running the command, or ``u`` in the app), so no trial
waits in the queue meanwhile. Each worker holds a shared lock on ``.studies/.STUDY.workers`` for its
life: the kernel's list of its holders is how the app finds the processes to stop (``x`` in the
tuning view). Optuna is imported inside functions only.

By job: :mod:`~cs_tui.tuning.options` (what a study is asked, checked), :mod:`~cs_tui.tuning.storage`
(Optuna storages, the creation lock, worker marks), :mod:`~cs_tui.tuning.worker` (trials: train, prune,
score on held-out conversations), :mod:`~cs_tui.tuning.results` (trials as rows, the best one).
"""
