import type { OutputState, Task } from './engine-state.js';

/**
 * Puts a task back in its output's queue. An ordered output (workers 0 or 1) keeps the queue oldest
 * first: task ids grow with dispatch order, so a retried chunk goes back in front of the later ones.
 */
export function queueTask(task: Task): void {
  task.output.waiting.delete(task);
  task.retryTimer = null;
  task.state = 'queued';
  const queue = task.output.queue;
  if (!task.output.ordered) {
    queue.push(task);
    return;
  }
  let index = queue.length;
  while (index > 0 && (queue[index - 1] as Task).id > task.id) index--;
  queue.splice(index, 0, task);
}

/** Starts queued tasks while the output has a free worker; each finished task lets the next one go. */
export function startQueued(output: OutputState, run: (task: Task) => Promise<void>): void {
  // In order: nothing passes a chunk that waits for its retry (workers > 1 promise no order).
  if (output.ordered && output.waiting.size > 0) {
    countHeldBack(output);
    return;
  }
  while (output.running < output.concurrency && output.queue.length > 0) {
    const task = output.queue.shift() as Task;
    output.running++;
    output.flying.add(task);
    task.state = 'running';
    void run(task).finally(() => {
      output.running--;
      output.flying.delete(task);
      startQueued(output, run);
    });
  }
}

/**
 * A chunk held back by a failing output could not go at its turn: it counts as one output error, as
 * its own failed flush would have without the order promise, so the health check (HC_Errors_Count)
 * sees an outage at the rate chunks arrive rather than at the rate of the oldest chunk's retries.
 */
function countHeldBack(output: OutputState): void {
  for (const task of output.queue) {
    if (task.heldBack || task.attempts > 0) continue;
    task.heldBack = true;
    output.telemetry.count('fluentbit_output_errors_total');
  }
}
