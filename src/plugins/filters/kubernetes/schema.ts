/** The `kubernetes` filter's manifest and keys: what help and validation read without loading its code. */
import { noEffectKey } from '../../../config/inert-keys.js';
import { defineFilterManifest } from '../../../pipeline/contracts.js';

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const AWS = 'AWS pod-to-service association is not supported by wsbit';
const AWS_MEANING = 'AWS pod-to-service association setting.';

/** Fluent Bit 5.1.1's keys (`plugins/filter_kubernetes`), in its order and with its defaults, then wsbit's own. */
export const kubernetesFilterSchema = [
  { key: 'buffer_size', type: 'size', default: '32K', description: 'Largest API server (or kubelet) answer read; a larger one is an error and the records pass without pod metadata. 0: up to 64M.' },
  noEffectKey('tls.debug', 'int', 'TLS debug verbosity, 0 to 4.', 'TLS errors are logged as they happen; there are no TLS debug levels', 0),
  { key: 'tls.verify', type: 'bool', default: true, description: "Verify the API server's certificate against Kube_CA_File/Kube_CA_Path." },
  { key: 'tls.vhost', type: 'string', default: null, description: 'Server name sent with SNI (and checked with tls.verify_hostname).' },
  { key: 'tls.verify_hostname', type: 'bool', default: false, description: "Check that the API server's certificate names its host (or tls.vhost)." },
  { key: 'merge_log', type: 'bool', default: false, description: "Parse the 'log' value (JSON, or Merge_Parser) and add its keys to the record." },
  { key: 'merge_parser', type: 'string', default: null, description: "Parser (from Parsers_File) for the 'log' value, instead of JSON." },
  { key: 'merge_log_key', type: 'string', default: null, description: 'Put the merged keys under this key instead of at the top of the record.' },
  { key: 'merge_log_trim', type: 'bool', default: true, description: 'Remove trailing \\n (and escaped \\n, \\r) from merged string values.' },
  { key: 'keep_log', type: 'bool', default: true, description: "Keep the 'log' key after it was merged." },
  { key: 'kube_url', type: 'string', default: 'https://kubernetes.default.svc', description: 'API server URL (http:// or https://, host and port).' },
  { key: 'kube_meta_preload_cache_dir', type: 'string', default: null, description: 'Directory of NAMESPACE_POD.meta (pod JSON) and NAMESPACE.namespace_meta files read before asking the API server.' },
  { key: 'kube_ca_file', type: 'string', default: `${SA}/ca.crt`, description: 'CA certificate (PEM) of the API server.' },
  { key: 'kube_ca_path', type: 'string', default: null, description: 'Directory of CA certificates (PEM) of the API server.' },
  { key: 'kube_tag_prefix', type: 'string', default: 'kube.var.log.containers.', description: 'Tag prefix removed before the tag is matched for pod, namespace, container and container id.' },
  noEffectKey('kube_namespace_file', 'string', "File of the agent's own pod namespace.", 'wsbit does not look up its own pod; the token is sent whenever it can be read', `${SA}/namespace`),
  { key: 'kube_token_file', type: 'string', default: `${SA}/token`, description: 'Service-account token sent as a Bearer token; read again after Kube_Token_TTL.' },
  { key: 'kube_token_command', type: 'string', default: null, description: 'Command whose output is the token, instead of Kube_Token_File (run with /bin/sh, 10 s and 1 MiB at most).' },
  { key: 'labels', type: 'bool', default: true, description: "Add the pod's labels." },
  { key: 'annotations', type: 'bool', default: true, description: "Add the pod's annotations." },
  { key: 'owner_references', type: 'bool', default: false, description: "Add the pod's ownerReferences." },
  { key: 'namespace_labels', type: 'bool', default: false, description: "Add the namespace's labels (under kubernetes_namespace)." },
  { key: 'namespace_annotations', type: 'bool', default: false, description: "Add the namespace's annotations (under kubernetes_namespace)." },
  { key: 'namespace_metadata_only', type: 'bool', default: false, description: 'Fetch namespace metadata only, no pod metadata.' },
  { key: 'k8s-logging.parser', type: 'bool', default: false, description: 'Let pods name a parser for their log with the fluentbit.io/parser[_stream][-container] annotation.' },
  { key: 'k8s-logging.exclude', type: 'bool', default: false, description: 'Let pods drop their own records with the fluentbit.io/exclude[_stream][-container] annotation.' },
  noEffectKey('use_journal', 'bool', 'Match records of the systemd input by their journal fields.', 'wsbit has no systemd input; records are matched by their tag', false),
  { key: 'regex_parser', type: 'string', default: null, description: 'Regex parser (from Parsers_File) for the tag, instead of the built-in one; its pod_name, namespace_name, container_name, docker_id groups are used.' },
  noEffectKey('dummy_meta', 'bool', 'Add dummy metadata (for tests).', "Fluent Bit's test-only dummy metadata is not made; use Kube_Meta_Preload_Cache_Dir", false),
  { key: 'dns_retries', type: 'int', default: 6, description: 'At start, how many times the API server host is looked up (in the background) before a warning says it cannot be resolved.' },
  { key: 'dns_wait_time', type: 'time', default: '30', description: 'Time between those look-ups.' },
  { key: 'cache_use_docker_id', type: 'bool', default: false, description: 'Include the container id in the cache key, so a restarted container gets fresh metadata.' },
  { key: 'use_tag_for_meta', type: 'bool', default: false, description: 'Take pod_name, namespace_name, container_name and docker_id from the tag only, without the API server.' },
  { key: 'use_kubelet', type: 'bool', default: false, description: "Read pods from the kubelet's /pods instead of the API server (namespace metadata still comes from the API server)." },
  { key: 'kubelet_host', type: 'string', default: '127.0.0.1', description: 'Kubelet host, with Use_Kubelet.' },
  { key: 'kubelet_port', type: 'int', default: 10250, min: 1, max: 65535, description: 'Kubelet port, with Use_Kubelet.' },
  { key: 'kube_token_ttl', type: 'time', default: '10m', description: 'How long a token is used before the token file (or command) is read again.' },
  { key: 'kube_meta_cache_ttl', type: 'time', default: '0', description: 'How long pod metadata is cached (0: until the cache is full); older entries are fetched again while records use the old one.' },
  { key: 'kube_meta_namespace_cache_ttl', type: 'time', default: '15m', description: 'How long namespace metadata is cached (0: until the cache is full).' },
  noEffectKey('aws_use_pod_association', 'bool', AWS_MEANING, AWS, false),
  noEffectKey('use_pod_association', 'bool', AWS_MEANING, AWS, false),
  noEffectKey('aws_pod_association_host', 'string', AWS_MEANING, AWS, 'cloudwatch-agent.amazon-cloudwatch'),
  noEffectKey('aws_pod_association_endpoint', 'string', AWS_MEANING, AWS, '/kubernetes/pod-to-service-env-map'),
  noEffectKey('aws_pod_association_port', 'int', AWS_MEANING, AWS, 4311),
  noEffectKey('aws_pod_service_map_ttl', 'int', AWS_MEANING, AWS, 0),
  noEffectKey('aws_pod_service_map_refresh_interval', 'int', AWS_MEANING, AWS, 60),
  noEffectKey('aws_pod_service_preload_cache_dir', 'string', AWS_MEANING, AWS, null),
  noEffectKey('aws_pod_association_host_server_ca_file', 'string', AWS_MEANING, AWS, '/etc/amazon-cloudwatch-observability-agent-server-cert/tls-ca.crt'),
  noEffectKey('aws_pod_association_host_client_cert_file', 'string', AWS_MEANING, AWS, '/etc/amazon-cloudwatch-observability-agent-client-cert/client.crt'),
  noEffectKey('aws_pod_association_host_client_key_file', 'string', AWS_MEANING, AWS, '/etc/amazon-cloudwatch-observability-agent-client-cert/client.key'),
  noEffectKey('aws_pod_association_host_tls_debug', 'int', AWS_MEANING, AWS, 0),
  noEffectKey('aws_pod_association_host_tls_verify', 'bool', AWS_MEANING, AWS, true),
  noEffectKey('set_platform', 'string', AWS_MEANING, AWS, null),
  { key: 'kube_meta_wait', type: 'time', default: '2s', description: "wsbit: longest time records wait for their pod's metadata; then they pass with what the tag tells (pod, namespace, container, id), the wait is logged and counted, and later records do not wait while the request is out." },
  { key: 'kube_meta_cache_size', type: 'int', default: 2048, min: 1, description: 'wsbit: most pods (and namespaces) kept in the metadata cache; the least recently used goes first.' },
] as const;

export const kubernetesManifest = defineFilterManifest({
  kind: 'filter',
  name: 'kubernetes',
  description: 'Filter to append Kubernetes metadata',
  schema: kubernetesFilterSchema,
});
