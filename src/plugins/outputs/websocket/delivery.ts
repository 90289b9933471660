import { WsbitError, errorMessage } from '../../../base/errors.js';
import type { Telemetry } from '../../../base/telemetry.js';
import type { FlushResult, OutputContext } from '../../../pipeline/contracts.js';
import { UpstreamBalancer, type BalancedNode } from '../../../upstream/balancer.js';
import type { UpstreamNode } from '../../../upstream/config.js';
import type { DataOpcode } from '../../../websocket/frame.js';
import type { FragmentedMessage } from '../../../websocket/sender.js';
import { WebSocketLink } from './link.js';
import type { NodeLinkOptions, WebSocketOutputOptions } from './options.js';

type DeliveryContext = Pick<OutputContext<unknown>, 'telemetry' | 'clock' | 'notifyReady'>;

/**
 * Where the websocket output's messages go: one link per node. Without an upstream there is one node
 * and no balancer: the link alone says when the server is back. With one, each node's link keeps its
 * own reconnect loop (the node's own backoff) and its counters under `OUTPUT/NODE`, and the balancer
 * picks the node for each chunk.
 */
export class WebSocketDelivery {
  private readonly single: WebSocketLink | null;
  private readonly balancer: UpstreamBalancer<WebSocketLink> | null;
  /**
   * Nodes whose last failure came on an open connection (no pong, a reset mid-send). For them a new
   * handshake is no news, so it does not cut their backoff short: a node that accepts handshakes
   * but never confirms would otherwise hold up every other chunk for confirm_timeout.
   */
  private readonly failedWhileOpen = new Set<UpstreamNode>();
  private readonly links: readonly WebSocketLink[];

  constructor(
    options: WebSocketOutputOptions,
    private readonly context: DeliveryContext,
  ) {
    const { telemetry, clock } = context;
    if (!options.balanced) {
      this.single = new WebSocketLink(options.linkOptions(options.nodes[0] as UpstreamNode), telemetry, clock, context.notifyReady);
      this.balancer = null;
      this.links = [this.single];
      return;
    }
    this.single = null;
    this.balancer = new UpstreamBalancer<WebSocketLink>(options.nodes, telemetry, clock, (node, nodeTelemetry) => this.balancedLink(options.linkOptions(node), node, nodeTelemetry));
    this.links = this.balancer.nodes.map((entry) => entry.target);
  }

  /** The server, or the upstream, for the start-up line. */
  get description(): string {
    return this.balancer === null ? `${this.links[0]?.description}` : `upstream ${this.balancer.description}`;
  }

  /**
   * Whether a chunk may go as a FragmentedMessage, made while it is sent: with one server. An upstream
   * tries the next node with the same bytes when one fails, and a FragmentedMessage is made only once.
   */
  get sendsFragmentedMessages(): boolean {
    return this.balancer === null;
  }

  /**
   * Sends a chunk's messages on one node; with an upstream, a node that fails is marked down and the next one tried at once.
   * `ownsPayload`: the messages are the caller's private copy, which one node may mask in place; with an upstream the
   * next node needs the same bytes, so they are masked into a copy.
   */
  async deliver(opcode: DataOpcode, messages: readonly Buffer[] | readonly [FragmentedMessage], records: number, chunkId: string, ownsPayload = false): Promise<FlushResult> {
    const { telemetry } = this.context;
    const { balancer, failedWhileOpen } = this;
    if (balancer === null) {
      try {
        await (this.single as WebSocketLink).send(opcode, messages, ownsPayload);
        return 'ok';
      } catch (error) {
        telemetry.logger.debug(`chunk '${chunkId}' not delivered: ${errorMessage(error)}`);
        return 'retry';
      }
    }
    for (const entry of balancer.candidates()) {
      try {
        await entry.target.send(opcode, messages);
        balancer.delivered(entry, records);
        failedWhileOpen.delete(entry.node);
        return 'ok';
      } catch (error) {
        if (error instanceof WsbitError && error.code === 'WSBIT_OUTPUT_STOPPED') return 'retry';
        telemetry.logger.debug(`chunk '${chunkId}' not delivered through ${entry.label}: ${errorMessage(error)}`);
        if (error instanceof WsbitError && error.code === 'WSBIT_OUTPUT_DOWN') failedWhileOpen.delete(entry.node);
        else failedWhileOpen.add(entry.node);
        // onLost may have marked it down already for the same failure.
        if (balancer.isCandidate(entry)) balancer.failed(entry, errorMessage(error));
      }
    }
    return 'retry';
  }

  /** Why delivery last failed: the link's reason, or each node's that has failed (for the shutdown line). */
  failureReason(): string | null {
    const reasons = this.links.map((link) => link.failureReason).filter((reason): reason is string => reason !== null);
    return reasons.length === 0 ? null : reasons.join('; ');
  }

  async stop(graceful: boolean): Promise<void> {
    await Promise.all(this.links.map((link) => link.stop(graceful)));
  }

  /** The link to one node of the upstream, which reports to the balancer. */
  private balancedLink(linkOptions: NodeLinkOptions, node: UpstreamNode, nodeTelemetry: Telemetry): WebSocketLink {
    const entryOf = (): BalancedNode<WebSocketLink> | undefined => this.balancer?.nodes.find((entry) => entry.node === node);
    return new WebSocketLink(
      {
        ...linkOptions,
        onConnected: () => {
          const entry = entryOf();
          if (entry !== undefined) this.balancer?.connected(entry);
        },
        // An idle connection that stops answering pings (or is closed under us) marks its node down.
        onLost: (reason) => {
          this.failedWhileOpen.add(node);
          const entry = entryOf();
          if (entry !== undefined && this.balancer?.isCandidate(entry) === true) this.balancer.failed(entry, reason);
        },
      },
      nodeTelemetry,
      this.context.clock,
      () => {
        const entry = entryOf();
        if (entry !== undefined && !this.failedWhileOpen.has(node)) this.balancer?.reachable(entry);
        this.context.notifyReady();
      },
    );
  }
}
