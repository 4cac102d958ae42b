-- Hours since the newest passed recovery drill and since the first drill of any outcome.
SELECT extract(epoch FROM now() - max(finished_at) FILTER (WHERE status = 'passed')) / 3600,
       extract(epoch FROM now() - min(finished_at)) / 3600
FROM vectorops.recovery_drills
