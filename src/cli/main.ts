import { convertConfigFile } from '../app/config-files.js';
import { errorMessage } from '../base/errors.js';
import { formatLogLine } from '../base/logger.js';
import { defaultRegistry, type PluginRegistry } from '../plugins/registry.js';
import type { PluginManifest } from '../pipeline/contracts.js';
import { parseCommandLine, type CommandLine } from './args.js';
import { helpAsJson, mainHelp, pluginHelp } from './help.js';
import { runService } from '../app/service.js';
import { packageVersion } from './version.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs wsbit with the given arguments. Resolves with the exit code once the agent has stopped
 * (after SIGTERM/SIGINT), or at once for help, version, dry runs and configuration errors.
 */
export async function main(argv: readonly string[], io: CliIo = processIo, registry: PluginRegistry = defaultRegistry()): Promise<number> {
  const fail = (error: unknown): number => {
    io.stderr(formatLogLine('error', '', errorMessage(error), new Date()));
    return 1;
  };

  let commandLine: CommandLine;
  try {
    commandLine = parseCommandLine(argv);
  } catch (error) {
    return fail(error);
  }
  const version = packageVersion();
  if (commandLine.showVersion) {
    io.stdout(`wsbit v${version}\n`);
    return 0;
  }
  if (commandLine.jsonHelp) {
    let definition: PluginManifest | null = null;
    if (commandLine.help?.kind === 'plugin') {
      const { plugin } = commandLine.help;
      definition = registry.get(plugin.kind, plugin.plugin) ?? null;
      // Fluent Bit fails too (exit 1, nothing on stdout), so a tool never parses an error as help.
      if (definition === null) return fail(`unknown ${plugin.kind} plugin '${plugin.plugin}'`);
    }
    // One line, as Fluent Bit prints it.
    io.stdout(`${JSON.stringify(helpAsJson(registry, version, definition))}\n`);
    return 0;
  }
  if (commandLine.convertFile !== null) {
    try {
      io.stdout(convertConfigFile(commandLine.convertFile));
      return 0;
    } catch (error) {
      return fail(error);
    }
  }
  if (commandLine.help !== null) {
    if (commandLine.help.kind === 'main') {
      io.stdout(mainHelp(registry, version));
      return 0;
    }
    const { plugin } = commandLine.help;
    const definition = registry.get(plugin.kind, plugin.plugin);
    if (definition === undefined) return fail(`unknown ${plugin.kind} plugin '${plugin.plugin}'`);
    io.stdout(pluginHelp(definition));
    return 0;
  }
  return runService(commandLine, registry, version, io.stdout, fail);
}
