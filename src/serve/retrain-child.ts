/**
 * The retrain child process: receives one {@link RetrainJob} over IPC, runs it, sends back the
 * outcome (or the error) and exits. A separate process, so fitting a model never holds the
 * serving event loop, and a crash or an out-of-memory here leaves the service running.
 */
import { runRetrain, type RetrainJob } from './retrain-job.ts';

process.once('message', (job: RetrainJob) => {
  void (async () => {
    try {
      const outcome = await runRetrain(job);
      process.send!({ ok: true, outcome }, () => process.exit(0));
    } catch (e) {
      process.send!({ ok: false, error: (e as Error).stack ?? String(e) }, () => process.exit(1));
    }
  })();
});
