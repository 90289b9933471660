/**
 * Every configuration file wsbit reads, read here: the main file (classic or YAML) with its includes,
 * `Parsers_File` files and upstream files. The front ends in src/config turn text into documents and
 * reach includes through `configFileReader`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../base/errors.js';
import { parseClassicConfigText } from '../config/classic.js';
import { convertClassicToYaml } from '../config/convert.js';
import type { ConfigDocument, ParseOptions } from '../config/document.js';
import { isYamlConfig, loadYamlLibrary, parseYamlConfigText } from '../config/yaml.js';
import { registerParserSections, type ParserRegistry } from '../pipeline/parser-registry.js';
import { upstreamFromSections, type UpstreamDefinition, type UpstreamSource } from '../upstream/config.js';
import { configFileReader, readConfigFile } from './read-file.js';

type FileOptions = Omit<ParseOptions, 'reader'>;

/** A classic file, includes read from disk. */
export function parseClassicFile(file: string, options: FileOptions = {}, what?: string): ConfigDocument {
  return parseClassicConfigText(readConfigFile(file, what), file, { ...options, reader: configFileReader });
}

/** A YAML file, includes read from disk. */
export function parseYamlFile(file: string, options: FileOptions = {}, what?: string): ConfigDocument {
  return parseYamlConfigText(readConfigFile(file, what), file, { ...options, reader: configFileReader });
}

/**
 * Reads the `-c` file in the format it is written in: YAML by extension (`.yaml`, `.yml`) or by
 * content (see `isYamlConfig`), classic otherwise.
 */
export function parseConfigFile(file: string, options: FileOptions = {}): ConfigDocument {
  const text = readConfigFile(file);
  const withReader = { ...options, reader: configFileReader };
  return isYamlConfig(file, text) ? parseYamlConfigText(text, file, withReader) : parseClassicConfigText(text, file, withReader);
}

/**
 * Before a load: imports the readers its files need that are not loaded yet, the yaml library when
 * the `-c` file or a `-R` parsers file is YAML. (A YAML file named only from within another, say a
 * classic file's Parsers_File, still loads: the library is then required on the spot.)
 */
export async function prepareReaders(configFile: string | null, parsersFiles: readonly string[]): Promise<void> {
  const yaml = (file: string): boolean => {
    if (isYamlConfig(file, '')) return true;
    try {
      return isYamlConfig(file, readConfigFile(file));
    } catch {
      // The load itself reports a file it cannot read.
      return false;
    }
  };
  if ((configFile !== null && yaml(configFile)) || parsersFiles.some((file) => isYamlConfig(file, ''))) await loadYamlLibrary();
}

/** `--convert FILE.conf`: the classic file as YAML. */
export function convertConfigFile(file: string): string {
  return convertClassicToYaml(file, readConfigFile(file));
}

/**
 * Loads every `[PARSER]` and `[MULTILINE_PARSER]` of a parsers file into `registry`, a YAML one
 * holding `parsers:`/`multiline_parsers:` like a main YAML file. Returns the warnings to log.
 */
export function loadParsersFile(file: string, registry: ParserRegistry, options: FileOptions = {}): string[] {
  if (isYamlConfig(file, '')) {
    const parsed = parseYamlFile(file, options, 'parsers file');
    return [...parsed.warnings, ...registerParserSections(parsed.sections, registry)];
  }
  if (!fs.existsSync(file)) {
    throw new ConfigError('WSBIT_CONFIG_PARSERS_FILE', `[config] parsers file '${file}' does not exist`);
  }
  const document = parseClassicFile(file, { ...options, allowParsers: true });
  return [...document.warnings, ...registerParserSections(document.sections, registry)];
}

/**
 * Where a `Parsers_File` value points. A file named in a config file is looked up next to that file
 * first (so `conf/tail-to-stdout.conf` finds `conf/parsers.conf` from any working directory), then
 * as given; `-R` paths are taken as given, relative to the working directory.
 */
export function resolveParsersFile(value: string, configDir: string | null): string {
  if (path.isAbsolute(value) || configDir === null) return value;
  const besideConfig = path.join(configDir, value);
  // When neither exists, the error names the path next to the config file, where it was expected.
  return fs.existsSync(besideConfig) || !fs.existsSync(value) ? besideConfig : value;
}

/**
 * Reads an upstream file. A relative path is taken from `baseDir`: the directory of the main
 * configuration file, as Fluent Bit does (`flb_upstream_ha_from_file` prefixes `conf_path`), or the
 * working directory for the command line.
 */
export function readUpstreamFile(file: string, baseDir = process.cwd()): UpstreamSource {
  const absolute = path.resolve(baseDir, file);
  try {
    return { from: absolute, sections: parseClassicFile(absolute).sections };
  } catch (error) {
    // Say which key led here: "could not open configuration file" alone reads like the main file.
    if (error instanceof ConfigError && !error.message.includes('upstream')) {
      throw new ConfigError(error.code, `upstream file: ${error.message}`, error.origin, { cause: error });
    }
    throw error;
  }
}

export function loadUpstreamFile(file: string, defaultPort: number, baseDir = process.cwd()): UpstreamDefinition {
  return upstreamFromSections(readUpstreamFile(file, baseDir).sections, defaultPort);
}
