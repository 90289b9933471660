import type { InputInstance } from '../../src/pipeline/contracts.js';

/** An input plugin for engine tests that only counts how often the engine paused and resumed it. */
export function countingInput(): InputInstance & { pauses: number; resumes: number } {
  return {
    pauses: 0,
    resumes: 0,
    start: async () => undefined,
    stop: async () => undefined,
    pause() {
      this.pauses++;
    },
    resume() {
      this.resumes++;
    },
  };
}
