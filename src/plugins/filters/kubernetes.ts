import { existsSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { configMessage } from '../../config/schema.js';
import { ConfigError, WsbitError, errorMessage } from '../../base/errors.js';
import type { TimerHandle } from '../../base/clock.js';
import { defineFilter, type FilterContext } from '../../pipeline/contracts.js';
import { KubeApi, parseKubeUrl } from './kubernetes/api.js';
import { KubernetesFilter } from './kubernetes/filter.js';
import { kubernetesFilterSchema, kubernetesManifest } from './kubernetes/schema.js';
import { tagReader } from './kubernetes/tag.js';
import type { ResolvedConfig } from '../../config/schema.js';

type Config = ResolvedConfig<typeof kubernetesFilterSchema>;

const DEFAULT_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

/** Fluent Bit waits for DNS at start (kubernetes/kubernetes#78479); wsbit looks in the background and only warns. */
function watchDns(host: string, retries: number, waitMs: number, context: FilterContext<unknown>): () => void {
  let timer: TimerHandle | null = null;
  let cancelled = false;
  const attempt = (left: number): void => {
    lookup(host).then(
      () => undefined,
      (error: unknown) => {
        if (cancelled) return;
        if (left <= 1) context.logger.warn(`could not resolve ${host}: ${errorMessage(error)}; metadata requests fail until it resolves`);
        else timer = context.clock.setTimeout(() => attempt(left - 1), waitMs);
      },
    );
  };
  if (retries > 0) attempt(retries);
  return () => {
    cancelled = true;
    timer?.cancel();
  };
}

/**
 * Fluent Bit's `kubernetes` filter (`plugins/filter_kubernetes`): adds the pod's metadata (from the
 * API server, the kubelet, or a preload cache directory) to container log records, merges a JSON (or
 * parsed) `log` value into the record, and honours the pods' fluentbit.io/ annotations.
 */
export const kubernetesFilter = defineFilter({
  ...kubernetesManifest,
  create(context) {
    const { config, instance, logger } = context;
    let regexParser = null;
    if (config.regex_parser !== null) {
      regexParser = context.parsers.require(config.regex_parser, instance);
      if (regexParser.format !== 'regex') {
        throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: regex_parser '${config.regex_parser}' is a ${regexParser.format} parser; it must be a regex parser`));
      }
    }
    // Fluent Bit only logs an unknown Merge_Parser and merges JSON instead; a typo would silently change records.
    const mergeParser = config.merge_parser === null ? null : context.parsers.require(config.merge_parser, instance);
    let api: KubeApi | null = null;
    let stopDns = (): void => undefined;
    if (config.use_tag_for_meta) {
      logger.info('no network access required (OK)');
    } else {
      let target;
      try {
        target = parseKubeUrl(config.kube_url);
      } catch (error) {
        throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: ${errorMessage(error)}`));
      }
      let caFile: string | null = config.kube_ca_file;
      const needsCa = (target.https || config.use_kubelet) && config['tls.verify'];
      if (needsCa && caFile === DEFAULT_CA_FILE && !existsSync(caFile)) {
        logger.warn(`${caFile} does not exist (not running in a pod?): the API server's certificate is checked against the system's CAs`);
        caFile = null;
      }
      try {
        api = new KubeApi({
          url: config.kube_url,
          tlsVerify: config['tls.verify'],
          tlsVerifyHostname: config['tls.verify_hostname'],
          tlsVhost: config['tls.vhost'],
          caFile: needsCa ? caFile : null,
          caPath: needsCa ? config.kube_ca_path : null,
          tokenFile: config.kube_token_file,
          tokenCommand: config.kube_token_command,
          tokenTtlMs: config.kube_token_ttl * 1000,
          bufferSize: config.buffer_size,
          preloadDir: config.kube_meta_preload_cache_dir,
          kubelet: config.use_kubelet ? { host: config.kubelet_host, port: config.kubelet_port } : null,
          now: () => context.clock.nowMs(),
          warn: (message) => logger.warn(message),
          debug: (message) => logger.debug(message),
        });
      } catch (error) {
        if (error instanceof WsbitError && error.code === 'WSBIT_TLS_CONFIG') {
          throw new ConfigError('WSBIT_CONFIG_BAD_VALUE', configMessage(`${instance}: kube_ca_file/kube_ca_path: ${error.message}`));
        }
        throw error;
      }
      logger.info(api.describe());
      stopDns = watchDns(config.use_kubelet ? config.kubelet_host : target.host, config.dns_retries, config.dns_wait_time * 1000, context);
    }
    const filter = new KubernetesFilter(
      {
        readTag: tagReader(config.kube_tag_prefix, regexParser),
        api,
        podOptions: {
          labels: config.labels,
          annotations: config.annotations,
          ownerReferences: config.owner_references,
          allowParser: config['k8s-logging.parser'],
          allowExclude: config['k8s-logging.exclude'],
          podList: config.use_kubelet,
          parserExists: (name) => context.parsers.get(name) !== undefined,
        },
        merge: {
          mergeLog: config.merge_log,
          mergeLogKey: config.merge_log_key,
          mergeLogTrim: config.merge_log_trim,
          keepLog: config.keep_log,
          mergeParser,
          parser: (name) => context.parsers.get(name) ?? null,
          now: () => {
            const ms = context.clock.nowMs();
            return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
          },
        },
        wantPod: !config.namespace_metadata_only,
        namespaceLabels: config.namespace_labels,
        namespaceAnnotations: config.namespace_annotations,
        cacheUseDockerId: config.cache_use_docker_id,
        waitMs: config.kube_meta_wait * 1000,
        cacheSize: config.kube_meta_cache_size,
        podTtlMs: config.kube_meta_cache_ttl * 1000,
        namespaceTtlMs: config.kube_meta_namespace_cache_ttl * 1000,
      },
      context as FilterContext<unknown>,
    );
    return {
      filter: (events, records, tag, input) => filter.filter(events, records, tag, input),
      stop: () => {
        stopDns();
        filter.stop();
      },
    };
  },
});
