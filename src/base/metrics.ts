/**
 * Every counter wsbit keeps, declared once with its help text. Names follow Fluent Bit's so that
 * dashboards built for it keep working (`fluentbit_output_proc_records_total` and so on); the
 * websocket-specific ones are wsbit's own.
 */
export const metricDefinitions = {
  fluentbit_input_records_total: { kind: 'counter', help: 'Number of input records.' },
  fluentbit_input_bytes_total: { kind: 'counter', help: 'Number of input bytes.' },
  fluentbit_input_paused_total: { kind: 'counter', help: 'Times the input was paused by a buffer limit.' },
  wsbit_input_rejected_records_total: { kind: 'counter', help: 'Messages an input could not turn into records.' },
  wsbit_input_messages_total: { kind: 'counter', help: 'WebSocket messages the websocket input turned into records.' },
  wsbit_input_connections_total: { kind: 'counter', help: 'WebSocket clients the websocket input accepted.' },
  wsbit_input_refused_connections_total: { kind: 'counter', help: 'websocket input upgrade requests refused before the handshake (path, origin, token, max_connections).' },
  wsbit_input_connected: { kind: 'gauge', help: 'WebSocket clients connected to the websocket input.' },
  wsbit_input_message_bytes_total: { kind: 'counter', help: 'Bytes of the messages the websocket input received, after permessage-deflate inflated them.' },
  wsbit_input_wire_bytes_total: { kind: 'counter', help: 'Bytes the websocket input read from its connections after the handshake (frames as sent, compressed or not).' },
  wsbit_input_compressed_connected: { kind: 'gauge', help: 'websocket input clients connected with permessage-deflate (each holds a zlib context).' },
  fluentbit_input_multiline_truncated_total: { kind: 'counter', help: 'Total number of truncated occurences for multilines.' },
  fluentbit_input_long_line_truncated_total: { kind: 'counter', help: 'Total number of truncated occurences for long lines.' },
  fluentbit_filter_records_total: { kind: 'counter', help: 'Total number of new records processed.' },
  fluentbit_filter_add_records_total: { kind: 'counter', help: 'Total number of new added records.' },
  fluentbit_filter_drop_records_total: { kind: 'counter', help: 'Total number of dropped records.' },
  fluentbit_filter_emit_records_total: { kind: 'counter', help: 'Total number of emitted records.' },
  fluentbit_filter_emit_truncated_total: { kind: 'counter', help: 'Total number of truncated occurence of multiline.' },
  wsbit_filter_kubernetes_requests_total: { kind: 'counter', help: 'Pod and namespace metadata requests the kubernetes filter sent (or preload cache files it read).' },
  wsbit_filter_kubernetes_request_errors_total: { kind: 'counter', help: 'kubernetes filter metadata requests that failed (HTTP error, bad or too large answer, no connection).' },
  wsbit_filter_kubernetes_waits_total: { kind: 'counter', help: "Times the kubernetes filter held a container's records while its pod's metadata was fetched." },
  wsbit_filter_kubernetes_late_records_total: { kind: 'counter', help: "Records the kubernetes filter passed with the tag's metadata only, because the API server had not answered within kube_meta_wait." },
  fluentbit_output_proc_records_total: { kind: 'counter', help: 'Number of processed output records.' },
  fluentbit_output_proc_bytes_total: { kind: 'counter', help: 'Number of processed output bytes.' },
  fluentbit_output_errors_total: { kind: 'counter', help: 'Number of output errors.' },
  fluentbit_output_retries_total: { kind: 'counter', help: 'Number of output retries.' },
  fluentbit_output_retries_failed_total: { kind: 'counter', help: 'Number of abandoned batches because the maximum number of re-tries was reached.' },
  fluentbit_output_dropped_records_total: { kind: 'counter', help: 'Number of dropped records.' },
  fluentbit_output_retried_records_total: { kind: 'counter', help: 'Number of retried records.' },
  wsbit_output_rejected_records_total: { kind: 'counter', help: 'Records an output could not encode (left out of the payload, rest sent).' },
  wsbit_output_connections_total: { kind: 'counter', help: 'WebSocket connections established (handshake completed).' },
  wsbit_output_connection_failures_total: { kind: 'counter', help: 'Connection or handshake attempts that failed.' },
  wsbit_output_disconnects_total: { kind: 'counter', help: 'Established WebSocket connections that went down.' },
  wsbit_output_frames_total: { kind: 'counter', help: 'Data frames written.' },
  wsbit_output_ping_acks_total: { kind: 'counter', help: 'Delivery confirmations (pong after data) received.' },
  wsbit_output_compressed_payload_bytes_total: { kind: 'counter', help: 'Payload bytes of the messages the websocket output sent compressed (compress deflate), before compression.' },
  wsbit_output_compressed_wire_bytes_total: { kind: 'counter', help: 'The same messages once compressed: their frame payload bytes on the wire.' },
  wsbit_output_connected: { kind: 'gauge', help: 'Connected WebSocket clients or connections.' },
  wsbit_output_refused: { kind: 'gauge', help: 'Whether the server refuses the upgrade for good (1: HTTP 401, 403 or 404, or an untrusted TLS certificate) until a handshake succeeds; /api/v1/health is unhealthy meanwhile.' },
  wsbit_output_broadcast_discarded_records_total: { kind: 'counter', help: 'Records websocket_server broadcast to no client (none connected, or none whose filter matched).' },
  wsbit_output_broadcast_slow_clients_total: { kind: 'counter', help: 'websocket_server clients closed (1013) because their unsent data stayed over max_client_buffer for slow_client_grace.' },
  wsbit_output_broadcast_unsent_records_total: { kind: 'counter', help: 'Records queued for a websocket_server client that were never written because it was closed as too slow.' },
  wsbit_output_broadcast_waits_total: { kind: 'counter', help: 'websocket_server flushes that waited for a client over max_client_buffer to drain or be closed.' },
  wsbit_output_broadcast_resume_gaps_total: { kind: 'counter', help: 'websocket_server clients that resumed (?last_received) after records no longer buffered, and were told how many they missed.' },
  wsbit_output_broadcast_rejected_clients_total: { kind: 'counter', help: 'websocket_server upgrade requests refused before the handshake (token, origin, max_clients).' },
  wsbit_output_broadcast_message_bytes_total: { kind: 'counter', help: 'Bytes of the messages websocket_server sent its clients, before permessage-deflate.' },
  wsbit_output_broadcast_wire_bytes_total: { kind: 'counter', help: 'Bytes websocket_server wrote to its clients\' connections after the handshake (frames as sent, compressed or not).' },
  wsbit_output_broadcast_compressed_connected: { kind: 'gauge', help: 'websocket_server clients connected with permessage-deflate (each holds a zlib context).' },
  wsbit_tls_handshake_failures_total: { kind: 'counter', help: 'TLS handshakes that failed on a server (websocket input, websocket_server): no or a bad client certificate, no common version or cipher, not TLS at all.' },
  wsbit_output_upstream_connections_total: { kind: 'counter', help: 'Connections opened to an upstream node (name="OUTPUT/NODE").' },
  wsbit_output_upstream_chunks_total: { kind: 'counter', help: 'Chunks delivered through an upstream node.' },
  wsbit_output_upstream_records_total: { kind: 'counter', help: 'Records delivered through an upstream node.' },
  wsbit_output_upstream_failures_total: { kind: 'counter', help: 'Failed connections or requests on an upstream node.' },
  wsbit_output_upstream_node_up: { kind: 'gauge', help: 'Whether an upstream node is taking chunks (1) or marked down (0).' },
  wsbit_output_http_requests_total: { kind: 'counter', help: 'HTTP requests the http output sent, whatever the answer.' },
  wsbit_output_forward_acks_total: { kind: 'counter', help: 'Acks the forward output received for chunks sent with require_ack_response.' },
  fluentbit_storage_writes_failing: { kind: 'gauge', help: 'Whether chunk writes fail (1: ENOSPC, EDQUOT, EIO): filesystem inputs are paused and acknowledge nothing until a probe write succeeds.' },
  fluentbit_storage_write_errors_total: { kind: 'counter', help: 'Chunk writes that failed.' },
  fluentbit_storage_refused_records_total: { kind: 'counter', help: 'Records an input refused (not acknowledged) because chunk writes fail; the sender keeps them.' },
  wsbit_storage_chunks: { kind: 'gauge', help: 'Chunks held by the engine.' },
  wsbit_storage_bytes: { kind: 'gauge', help: 'Bytes held in chunks by the engine.' },
  fluentbit_storage_recovered_chunks_total: { kind: 'counter', help: 'Chunks an earlier run left in storage.path, queued for delivery at start-up.' },
  fluentbit_storage_recovered_records_total: { kind: 'counter', help: 'Records in the chunks queued for delivery at start-up.' },
  fluentbit_storage_partial_chunks_total: { kind: 'counter', help: 'Chunks found torn or damaged at start-up and delivered as far as they hold whole records.' },
  fluentbit_storage_empty_chunks_total: { kind: 'counter', help: 'Chunk files found at start-up holding no records (cut by a crash): removed.' },
  fluentbit_storage_quarantined_chunks_total: { kind: 'counter', help: 'Chunk files moved or copied to storage.path/quarantine/ at start-up.' },
  fluentbit_storage_quarantined_bytes_total: { kind: 'counter', help: 'Bytes of the chunk files put in storage.path/quarantine/.' },
  fluentbit_storage_deleted_chunks_total: { kind: 'counter', help: 'Irrecoverable chunk files deleted (storage.delete_irrecoverable_chunks on) at start-up.' },
  fluentbit_storage_quarantine_dropped_total: { kind: 'counter', help: 'Quarantined files dropped, oldest first, to stay within storage.quarantine_limit.' },
} as const;

export type MetricName = keyof typeof metricDefinitions;

export class MetricsRegistry {
  private readonly values = new Map<MetricName, Map<string, number>>();

  add(metric: MetricName, instance: string, delta = 1): void {
    let series = this.values.get(metric);
    if (series === undefined) {
      series = new Map();
      this.values.set(metric, series);
    }
    series.set(instance, (series.get(instance) ?? 0) + delta);
  }

  set(metric: MetricName, instance: string, value: number): void {
    this.add(metric, instance, value - this.get(metric, instance));
  }

  get(metric: MetricName, instance: string): number {
    return this.values.get(metric)?.get(instance) ?? 0;
  }

  /** Every series, for the monitoring endpoints: `[metric, instance, value]`. */
  snapshot(): Array<{ metric: MetricName; instance: string; value: number }> {
    const rows: Array<{ metric: MetricName; instance: string; value: number }> = [];
    for (const [metric, series] of this.values) {
      for (const [instance, value] of series) rows.push({ metric, instance, value });
    }
    return rows;
  }
}
