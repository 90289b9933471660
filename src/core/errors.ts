/**
 * Every error wsbit raises on purpose carries a stable `code`, so tests, logs and the CLI can tell
 * failures apart without matching message text. The CLI prints `message` only, never a stack.
 */
export class WsbitError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Where a configuration value came from, so errors can say `FILE:LINE`. */
export interface ConfigOrigin {
  file: string;
  line: number;
}

/** A configuration problem: bad file syntax, an unknown key, a bad value, an unknown plugin. */
export class ConfigError extends WsbitError {
  readonly origin: ConfigOrigin | undefined;

  constructor(code: string, message: string, origin?: ConfigOrigin, options?: { cause?: unknown }) {
    super(code, message, options);
    this.origin = origin;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
