import { ReconnectBackoff } from '../../../base/backoff.js';
import type { Clock, TimerHandle } from '../../../base/clock.js';
import { WsbitError, errorMessage } from '../../../base/errors.js';
import { formatLogTimestamp, LogEpisode } from '../../../base/logger.js';
import type { Telemetry } from '../../../base/telemetry.js';
import { CloseCode, type DataOpcode } from '../../../websocket/frame.js';
import { WebSocketClientConnection, type WebSocketConnectionOptions } from '../../../websocket/connection.js';
import type { FragmentedMessage } from '../../../websocket/sender.js';
import { permanentRefusal, type Refusal } from './refusal.js';

export interface LinkOptions {
  connection: WebSocketConnectionOptions;
  /** Close an idle connection after this long without data (`net.keepalive_idle_timeout`). */
  idleTimeoutMs: number;
  /** `net.keepalive off`: a new connection (and handshake) for every flush, as Fluent Bit does. */
  keepalive: boolean;
  /** `net.keepalive_max_recycle`: flushes carried by one connection before it is replaced (0 = no limit). */
  maxFlushesPerConnection: number;
  /** Keepalive pings while connected (0 = off), and how long a pong may take. */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Wait for the pong after each data frame before calling it delivered (SPEC part A, 6). */
  confirmDelivery: boolean;
  confirmTimeoutMs: number;
  /** Log connect timeouts as errors (Fluent Bit's `net.connect_timeout_log_error`). */
  connectTimeoutLogError: boolean;
  /** ` through proxy …` when the connection goes through one, for the start-up line. */
  proxyNote?: string;
  /** Told of every new connection, and of an open one lost while idle (no pong, EOF): an upstream's balancer listens. */
  onConnected?: () => void;
  onLost?: (reason: string) => void;
}

/**
 * The output's view of its server: at most one connection, which is always a fresh, handshaken
 * WebSocket (SPEC part A, 1). When it is lost while data waits, a short reconnect loop runs on its
 * own backoff and tells the engine (`onReady`) the moment a handshake succeeds again, so buffered
 * chunks flow within about two seconds of the server's return instead of after the engine's retry
 * timer (SPEC part A, 9).
 */
type LinkState =
  | { kind: 'down' }
  | { kind: 'connecting'; connection: WebSocketClientConnection; attempt: Promise<WebSocketClientConnection | null> }
  | {
      kind: 'up';
      connection: WebSocketClientConnection;
      flushes: number;
      idleTimer: TimerHandle | null;
      pingTimer: TimerHandle | null;
      /** The delivery watch: sends waiting for their confirmation, since when nothing has been confirmed, and the stray control frames then. */
      inFlight: number;
      waitingSinceMs: number;
      strayAtWaitStart: { pings: number; pongs: number };
    }
  | { kind: 'waiting'; timer: TimerHandle }
  | { kind: 'stopped' };

/** Probe every ≤2 s during the first half minute of an outage (so a restart is seen at once), then back off to 10 s. */
const shortOutageMs = 30_000;
const shortBackoffMaxMs = 2_000;
const longBackoffMaxMs = 10_000;

/** A failed connect, logged by startReconnecting together with the next attempt it schedules. */
interface ConnectFailure {
  code: string;
  message: string;
  /** A connect timeout with net.connect_timeout_log_error off: debug only. */
  quiet: boolean;
  /** The server refused for good (401, 403, 404, an untrusted certificate): logged as an error. */
  refusal: Refusal | null;
}

/**
 * While the server refuses for good, a reminder rides on a reconnect attempt at gaps doubling from
 * 5 s to at most a minute: the refusal keeps showing in the log without a line per attempt.
 */
const firstRefusalReminderMs = 5_000;
const maxRefusalReminderMs = 60_000;

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** The outage's event kind for a handshake that succeeds (the other kinds are error codes). */
const upAgain = 'handshake succeeded';

export class WebSocketLink {
  private state: LinkState = { kind: 'down' };
  private readonly backoff = new ReconnectBackoff(500, longBackoffMaxMs);
  private readonly shortBackoff = new ReconnectBackoff(500, shortBackoffMaxMs);
  /**
   * The outage: from the first failure until a chunk is delivered again. Within it each kind of failure
   * (error code) is logged once at warn, then at debug, so a long outage or a server that misbehaves on
   * every connection costs a few lines, not one per attempt (issue 12). The first handshake that
   * succeeds in it is news too, once: a server that fails every connection right after says so once.
   */
  private readonly outage = new LogEpisode(() => this.clock.nowMs());
  private failedAttempts = 0;
  private lastFailure: ConnectFailure | null = null;
  /** The refusal under way (from its first answer until a handshake succeeds), and its attempts. */
  private refused: Refusal | null = null;
  private refusedAttempts = 0;
  private readonly refusal = new LogEpisode(() => this.clock.nowMs(), firstRefusalReminderMs, maxRefusalReminderMs);
  /** Why the last connect or send failed, kept after the outage for the shutdown line about lost records. */
  private lastProblem: string | null = null;
  private readonly target: string;
  /** The last permessage-deflate answer logged. */
  private compressionSettled: string | null = null;

  constructor(
    private readonly options: LinkOptions,
    private readonly telemetry: Telemetry,
    private readonly clock: Clock,
    private readonly onReady: () => void,
  ) {
    const { host, port, uri, tls } = options.connection;
    this.target = `${tls !== undefined && tls !== null ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${port}${uri}`;
  }

  get description(): string {
    return `${this.target}${this.options.proxyNote ?? ''}`;
  }

  /** One node of an upstream: the balancer logs its outages ("node X is down", "is up again"), so the link's own lines go to debug. */
  private get balanced(): boolean {
    return this.options.onLost !== undefined;
  }

  get isUp(): boolean {
    return this.state.kind === 'up';
  }

  /** Why the last attempt to connect or to send failed; null when nothing has failed. */
  get failureReason(): string | null {
    return this.lastProblem;
  }

  /**
   * Sends a chunk's messages (one, or one per record) and resolves once they are delivered (confirmed by
   * one pong after the last when `confirmDelivery`). Rejects when there is no connection or it fails; a
   * reconnect loop is then running, and `onReady` will be called when it succeeds. `ownsPayload`: the
   * messages are the caller's private copy and are not sent again, so one message may be masked in place.
   */
  async send(opcode: DataOpcode, messages: readonly Buffer[] | readonly [FragmentedMessage], ownsPayload = false): Promise<void> {
    const connection = await this.connection();
    const up = this.state;
    // An idle close must not fire under a send that takes longer than the idle timeout (a slow server).
    const watched = up.kind === 'up' && up.connection === connection ? up : null;
    if (watched !== null) {
      watched.idleTimer?.cancel();
      watched.idleTimer = null;
      // Data starts waiting on this connection now: the watch runs from here until a confirmation.
      if (watched.inFlight === 0) this.restartWatch(watched);
      watched.inFlight++;
    }
    try {
      if (messages.length === 1) {
        const message = messages[0] as Buffer | FragmentedMessage;
        if (this.options.confirmDelivery) await connection.sendAndConfirm(opcode, message, this.options.confirmTimeoutMs, ownsPayload);
        else await connection.send(opcode, message, ownsPayload);
      } else {
        await connection.sendMessages(opcode, messages as readonly Buffer[], this.options.confirmDelivery ? this.options.confirmTimeoutMs : null);
      }
      if (this.options.confirmDelivery) this.telemetry.count('wsbit_output_ping_acks_total');
    } catch (error) {
      if (watched !== null) watched.inFlight--;
      this.lastProblem = `sending to ${this.target} failed: ${errorMessage(error)}`;
      this.startReconnecting(connection);
      throw error;
    }
    if (watched !== null) {
      watched.inFlight--;
      // Only a confirmed delivery is progress: the chunks still waiting are watched from now.
      this.restartWatch(watched);
    }
    this.telemetry.count('wsbit_output_frames_total', messages.length);
    this.endOutage();
    if (up.kind !== 'up' || up.connection !== connection) return;
    up.flushes++;
    const recycle = this.options.maxFlushesPerConnection > 0 && up.flushes >= this.options.maxFlushesPerConnection;
    if (!this.options.keepalive || recycle) {
      await this.retire(up, CloseCode.Normal, recycle ? 'recycled' : 'keepalive off');
      return;
    }
    if (this.state === up) this.armIdleTimer(up);
  }

  /**
   * Sends a Close (1001) on the open connection, or abandons a connection still handshaking. When Grace
   * has run out (`graceful` false) the Close is sent but not waited for: a server that does not read
   * must not hold the process past Grace.
   */
  async stop(graceful = true): Promise<void> {
    const state = this.state;
    this.state = { kind: 'stopped' };
    // The pipeline goes (or is replaced by a reload, whose own link tells its own state): health must not stay red.
    if (this.refused !== null) this.telemetry.gauge('wsbit_output_refused', 0);
    switch (state.kind) {
      case 'waiting':
        state.timer.cancel();
        return;
      case 'connecting':
        // Do not wait out connect_timeout or handshake_timeout at shutdown: close() aborts an opening
        // connection at once, and sends a Close if it has just opened.
        await state.connection.close(CloseCode.GoingAway, 'wsbit shutting down');
        await state.attempt;
        return;
      case 'up': {
        const closing = this.retire(state, CloseCode.GoingAway, 'wsbit shutting down');
        if (!graceful) state.connection.destroy();
        await closing;
        return;
      }
      case 'down':
      case 'stopped':
        return;
    }
  }

  private async connection(): Promise<WebSocketClientConnection> {
    const state = this.state;
    switch (state.kind) {
      case 'up':
        return state.connection;
      case 'connecting': {
        const connection = await state.attempt;
        if (connection === null) throw new WsbitError('WSBIT_OUTPUT_DOWN', `${this.target} is not reachable`);
        return connection;
      }
      case 'waiting':
        throw new WsbitError('WSBIT_OUTPUT_DOWN', `${this.target} is down; reconnecting`);
      case 'stopped':
        throw new WsbitError('WSBIT_OUTPUT_STOPPED', 'output is stopping');
      case 'down': {
        const connection = await this.connect();
        if (connection === null) {
          this.startReconnecting();
          throw new WsbitError('WSBIT_OUTPUT_DOWN', `${this.target} is not reachable`);
        }
        return connection;
      }
    }
  }

  /** One connect + handshake attempt. Resolves to null on failure (logged and counted). */
  private connect(): Promise<WebSocketClientConnection | null> {
    const connection = new WebSocketClientConnection({
      ...this.options.connection,
      onCompressed: (payloadBytes, compressedBytes) => {
        this.telemetry.count('wsbit_output_compressed_payload_bytes_total', payloadBytes);
        this.telemetry.count('wsbit_output_compressed_wire_bytes_total', compressedBytes);
      },
    });
    // Listen before open(): bytes that arrive with the 101 can end the connection before open() returns.
    connection.on('down', (reason) => this.onDown(connection, reason));
    connection.on('message', () => this.telemetry.logger.trace('ignored a data message from the server'));
    const attempt = this.open(connection);
    this.state = { kind: 'connecting', connection, attempt };
    return attempt;
  }

  private async open(connection: WebSocketClientConnection): Promise<WebSocketClientConnection | null> {
    const isCurrent = (): boolean => this.state.kind === 'connecting' && this.state.connection === connection;
    try {
      await connection.open();
    } catch (error) {
      if (this.state.kind === 'stopped') {
        this.telemetry.logger.debug(`connect to ${this.target} abandoned at shutdown: ${errorMessage(error)}`);
        return null;
      }
      const code = error instanceof WsbitError ? error.code : 'WSBIT_CONNECT_FAILED';
      this.telemetry.count('wsbit_output_connection_failures_total');
      this.failedAttempts++;
      this.lastFailure = {
        code,
        message: `connecting to ${this.target} failed: ${errorMessage(error)}`,
        quiet: code === 'WSBIT_CONNECT_TIMEOUT' && !this.options.connectTimeoutLogError,
        refusal: permanentRefusal(error, { connection: this.options.connection, node: this.balanced }),
      };
      this.lastProblem = this.lastFailure.message;
      if (isCurrent()) this.state = { kind: 'down' };
      return null;
    }
    if (!isCurrent()) {
      await connection.close(CloseCode.GoingAway, 'wsbit shutting down');
      return null;
    }
    // A server may send a Close, garbage or a masked frame right behind its 101; the connection is then
    // already down although open() succeeded, and must not be handed out as up.
    const early = connection.downReason;
    if (early !== undefined) {
      this.telemetry.count('wsbit_output_connection_failures_total');
      this.failedAttempts++;
      this.lastFailure = { code: early.code, message: `connection to ${this.target} failed right after the handshake: ${early.message}`, quiet: false, refusal: null };
      this.lastProblem = this.lastFailure.message;
      this.state = { kind: 'down' };
      return null;
    }
    const up: Extract<LinkState, { kind: 'up' }> = {
      kind: 'up',
      connection,
      flushes: 0,
      idleTimer: null,
      pingTimer: null,
      inFlight: 0,
      waitingSinceMs: this.clock.nowMs(),
      strayAtWaitStart: connection.strayControlFrames,
    };
    this.state = up;
    const outageStartedMs = this.outage.sinceMs;
    const refusalEnded = this.endRefusal();
    if (outageStartedMs === null) {
      this.telemetry.event('info', `handshake with ${this.target} succeeded, connection up`, 'wsbit_output_connections_total');
    } else {
      // In an outage only the first handshake is news; a server that fails every connection says so once.
      // The end of a refusal, logged as an error while it lasted, is news even on a node of an upstream.
      const firstUp = this.outage.firstOf(upAgain);
      const level = refusalEnded !== '' || (firstUp && !this.balanced) ? 'info' : 'debug';
      const downMs = this.clock.nowMs() - outageStartedMs;
      this.telemetry.event(
        level,
        `handshake with ${this.target} succeeded, connection up again after ${(downMs / 1000).toFixed(1)} s down (since ${formatLogTimestamp(new Date(outageStartedMs))}, ${this.failedAttempts} failed attempt${this.failedAttempts === 1 ? '' : 's'})${refusalEnded}`,
        'wsbit_output_connections_total',
      );
    }
    this.telemetry.gauge('wsbit_output_connected', 1);
    this.reportCompression(connection);
    this.options.onConnected?.();
    this.backoff.reset();
    this.shortBackoff.reset();
    this.armIdleTimer(up);
    if (this.options.pingIntervalMs > 0) {
      up.pingTimer = this.clock.setInterval(() => {
        connection.ping(this.options.pingTimeoutMs).catch(() => undefined);
      }, this.options.pingIntervalMs);
    }
    return connection;
  }

  private onDown(connection: WebSocketClientConnection, reason: WsbitError): void {
    const state = this.state;
    if (state.kind !== 'up' || state.connection !== connection) return;
    state.idleTimer?.cancel();
    state.pingTimer?.cancel();
    this.state = { kind: 'down' };
    this.telemetry.gauge('wsbit_output_connected', 0);
    const expected = reason.code === 'WSBIT_CONNECTION_CLOSED';
    if (expected) {
      this.telemetry.event('debug', `connection to ${this.target} down: ${reason.message}`, 'wsbit_output_disconnects_total');
      return;
    }
    this.lastProblem = `connection to ${this.target} down: ${reason.message}`;
    this.options.onLost?.(reason.message);
    this.outage.begin();
    const repeated = !this.outage.firstOf(reason.code);
    if (state.inFlight > 0 && reason.code === 'WSBIT_PING_TIMEOUT') {
      // Data waited and nothing was confirmed: logged every time, even when the same happened on the
      // last connection, since a server that accepts handshakes and then confirms nothing (however
      // busy it keeps the connection) would otherwise look up while nothing gets through.
      const stray = connection.strayControlFrames;
      const chunks = count(state.inFlight, 'chunk');
      this.telemetry.event(
        this.balanced ? 'debug' : 'warn',
        `connection to ${this.target} delivered nothing for ${Math.round(this.clock.nowMs() - state.waitingSinceMs)} ms while ${chunks} waited (the server sent ${count(stray.pings - state.strayAtWaitStart.pings, 'ping')} and ${count(stray.pongs - state.strayAtWaitStart.pongs, 'pong')} that answered none of ours meanwhile); dropping it: ${reason.message}`,
        'wsbit_output_disconnects_total',
      );
      return;
    }
    this.telemetry.event(
      repeated || this.balanced ? 'debug' : 'warn',
      `connection to ${this.target} down: ${reason.message}${repeated ? '' : this.outageNote()}`,
      'wsbit_output_disconnects_total',
    );
  }

  /** With compress deflate, what the server agreed to: logged when it changes (a server that declines sends the bytes uncompressed). */
  private reportCompression(connection: WebSocketClientConnection): void {
    if (this.options.connection.compression === undefined) return;
    const agreement = connection.compression;
    const settled =
      agreement === null
        ? 'declined permessage-deflate; messages go uncompressed'
        : `accepted permessage-deflate (client window ${agreement.clientMaxWindowBits} bits${agreement.clientNoContextTakeover ? ', no context takeover' : ''})`;
    if (settled === this.compressionSettled) return;
    this.compressionSettled = settled;
    this.telemetry.logger.log(agreement === null ? 'warn' : 'info', `${this.target} ${settled}`);
  }

  /** Appended to the first warning of each kind in an outage, since the same failure again goes to debug. */
  private outageNote(): string {
    const since = this.outage.sinceMs;
    const down = since === null ? '' : `; down since ${formatLogTimestamp(new Date(since))}`;
    return `${down}; the same failure again in this outage is logged at debug level`;
  }

  /**
   * A handshake succeeded: a refusal under way is over (health turns green again). Returns the note
   * for the "up again" line, or '' when there was none.
   */
  private endRefusal(): string {
    const refused = this.refused;
    if (refused === null) return '';
    this.refused = null;
    this.refusal.end();
    this.telemetry.gauge('wsbit_output_refused', 0);
    const times = `${this.refusedAttempts} time${this.refusedAttempts === 1 ? '' : 's'}`;
    if (refused.refusedBy !== undefined) return `; proxy ${refused.refusedBy} lets the connection through again after refusing it ${times} (${refused.answer})`;
    return `; the server accepts the upgrade again after refusing it ${times} (${refused.answer})`;
  }

  /**
   * Logs a failed attempt the server refused for good: an error with what to change when the refusal
   * begins (or changes), then a short reminder with the count at the refusal episode's gaps, the
   * attempts between them at debug. The same output logs the same lines whether alone or on an upstream.
   */
  private reportRefusal(failure: ConnectFailure, refusal: Refusal, delayMs: number): void {
    const logger = this.telemetry.logger;
    const next = `next attempt in ${(delayMs / 1000).toFixed(1)} s`;
    if (this.refused?.code !== refusal.code) {
      this.refusal.end();
      this.refusal.begin();
      this.refused = refusal;
      this.refusedAttempts = 1;
      this.telemetry.gauge('wsbit_output_refused', 1);
      const refused = refusal.refusedBy === undefined ? `${this.target} refused the connection` : `proxy ${refusal.refusedBy} refused the connection to ${this.target}`;
      logger.error(
        `${refused}: ${refusal.answer}; ${refusal.hint}. Records wait and are retried at the reconnect backoff (${next}), but the answer will not change until the configuration or the ${refusal.refusedBy === undefined ? 'server' : 'proxy'} does; /api/v1/health reports unhealthy until a handshake succeeds`,
      );
      return;
    }
    this.refusedAttempts++;
    this.refused = refusal;
    if (!this.refusal.reminderDue()) {
      logger.debug(`${failure.message}; ${next} (refused ${this.refusedAttempts} times)`);
      return;
    }
    const since = formatLogTimestamp(new Date(this.refusal.sinceMs as number));
    const refuses = refusal.refusedBy === undefined ? `${this.target} still refuses the connection` : `proxy ${refusal.refusedBy} still refuses the connection to ${this.target}`;
    logger.error(`${refuses}: ${refusal.answer}, ${this.refusedAttempts} attempts since ${since}; ${refusal.hint}`);
  }

  /** The first delivery after failures ends the outage: the next failure is news again. */
  private endOutage(): void {
    if (this.outage.end() === null) return;
    this.failedAttempts = 0;
  }

  private restartWatch(up: Extract<LinkState, { kind: 'up' }>): void {
    up.waitingSinceMs = this.clock.nowMs();
    up.strayAtWaitStart = up.connection.strayControlFrames;
  }

  private armIdleTimer(up: Extract<LinkState, { kind: 'up' }>): void {
    up.idleTimer?.cancel();
    up.idleTimer = this.clock.setTimeout(() => {
      if (this.state === up) void this.retire(up, CloseCode.Normal, `idle for ${this.options.idleTimeoutMs} ms`);
    }, this.options.idleTimeoutMs);
  }

  /**
   * Closes a connection on purpose (idle, keepalive off, recycled, shutdown). The link counts as down
   * at once, so a flush that comes during the closing handshake opens a new connection instead of
   * failing on this one.
   */
  private async retire(up: Extract<LinkState, { kind: 'up' }>, code: number, reason: string): Promise<void> {
    up.idleTimer?.cancel();
    up.pingTimer?.cancel();
    if (this.state === up) this.state = { kind: 'down' };
    this.telemetry.gauge('wsbit_output_connected', 0);
    this.telemetry.logger.debug(`closing the connection to ${this.target} (code ${code}): ${reason}`);
    await up.connection.close(code, reason).catch(() => undefined);
  }

  /** Starts (or keeps) the reconnect loop after a failure while data is waiting. */
  private startReconnecting(failed?: WebSocketClientConnection): void {
    const state = this.state;
    if (state.kind === 'waiting' || state.kind === 'stopped' || state.kind === 'connecting') return;
    if (state.kind === 'up') {
      // With several workers, a send may fail on a connection that another one has replaced already.
      if (failed !== undefined && state.connection !== failed) return;
      // The send failed on a connection that still looks open (e.g. no pong in time): replace it.
      state.connection.destroy();
      if (this.state.kind === 'up') this.state = { kind: 'down' };
    }
    this.outage.begin();
    const inShortOutage = this.clock.nowMs() - (this.outage.sinceMs as number) < shortOutageMs;
    const delayMs = inShortOutage ? this.shortBackoff.nextDelayMs() : this.backoff.nextDelayMs();
    const timer = this.clock.setTimeout(() => void this.reconnect(), delayMs);
    this.state = { kind: 'waiting', timer };
    const failure = this.lastFailure;
    this.lastFailure = null;
    const next = `next attempt in ${(delayMs / 1000).toFixed(1)} s`;
    if (failure === null) {
      this.telemetry.logger.debug(`reconnecting to ${this.target}: ${next}`);
      return;
    }
    if (failure.refusal !== null) return this.reportRefusal(failure, failure.refusal, delayMs);
    // A quiet failure is not news, so the same failure, not quiet, is still logged once.
    if (failure.quiet || !this.outage.firstOf(failure.code)) {
      this.telemetry.logger.debug(`${failure.message}; ${next} (attempt ${this.failedAttempts} of this outage)`);
      return;
    }
    this.telemetry.logger.log(
      this.balanced ? 'debug' : 'warn',
      `${failure.message}; ${next}, then at most every ${shortBackoffMaxMs / 1000} s (${longBackoffMaxMs / 1000} s once down for ${shortOutageMs / 1000} s)${this.outageNote()}`,
    );
  }

  private async reconnect(): Promise<void> {
    if (this.state.kind !== 'waiting') return;
    this.state = { kind: 'down' };
    const connection = await this.connect();
    if (connection === null) {
      if (this.state.kind === 'down') this.startReconnecting();
      return;
    }
    this.onReady();
  }
}
