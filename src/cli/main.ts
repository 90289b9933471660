import { parseClassicConfig, type ConfigDocument } from '../config/classic.js';
import { buildPipeline, type PipelineSource, type PluginSection } from '../config/pipeline.js';
import { Agent } from '../core/agent.js';
import { WsbitError, errorMessage } from '../core/errors.js';
import { LogRoot, fileSink, formatLogLine, stderrSink, type LogLevel } from '../core/logger.js';
import { defaultRegistry, type PluginRegistry } from '../plugins/registry.js';
import { parseCommandLine, type CommandLine } from './args.js';
import { mainHelp, pluginHelp } from './help.js';
import { packageVersion } from './version.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Config-file sections come after the CLI's, so CLI instances get the lower ids (websocket.0). */
function pipelineSource(commandLine: CommandLine, document: ConfigDocument | null): PipelineSource {
  const source: PipelineSource = { serviceEntries: [...commandLine.serviceEntries], sections: [...commandLine.sections] };
  if (document === null) return source;
  for (const section of document.sections) {
    if (section.kind === 'service') {
      source.serviceEntries.push(...section.entries);
      continue;
    }
    if (section.kind !== 'input' && section.kind !== 'output' && section.kind !== 'filter') continue;
    const nameEntry = section.entries.find((entry) => entry.key === 'name');
    if (nameEntry === undefined || nameEntry.value === '') {
      throw new WsbitError(
        'WSBIT_CONFIG_NO_NAME',
        `[config] error in ${section.origin.file}:${section.origin.line}: [${section.header}] section has no 'Name' key naming its plugin`,
      );
    }
    const plugin: PluginSection = { kind: section.kind, plugin: nameEntry.value.toLowerCase(), entries: section.entries, origin: section.origin };
    source.sections.push(plugin);
  }
  return source;
}

function effectiveLogLevel(commandLine: CommandLine, configured: LogLevel): LogLevel {
  if (commandLine.quiet) return 'off';
  if (commandLine.verbosity >= 2) return 'trace';
  if (commandLine.verbosity === 1) return 'debug';
  const fromEnv = process.env['FLB_LOG_LEVEL'] ?? process.env['WSBIT_LOG_LEVEL'];
  if (fromEnv !== undefined && ['off', 'error', 'warn', 'info', 'debug', 'trace'].includes(fromEnv)) return fromEnv as LogLevel;
  return configured;
}

/**
 * Runs wsbit with the given arguments. Resolves with the exit code once the agent has stopped
 * (after SIGTERM/SIGINT), or at once for help, version, dry runs and configuration errors.
 */
export async function main(argv: readonly string[], io: CliIo = processIo, registry: PluginRegistry = defaultRegistry()): Promise<number> {
  const logRoot = new LogRoot({ level: 'info', sink: stderrSink });
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
  if (commandLine.help !== null) {
    if (commandLine.help.kind === 'main') {
      io.stdout(mainHelp(registry, version));
      return 0;
    }
    const { section } = commandLine.help;
    const definition = registry.get(section.kind, section.plugin);
    if (definition === undefined) return fail(`unknown ${section.kind} plugin '${section.plugin}'`);
    io.stdout(pluginHelp(definition));
    return 0;
  }

  let agent: Agent;
  try {
    const document = commandLine.configFile === null ? null : parseClassicConfig(commandLine.configFile);
    const pipeline = buildPipeline(pipelineSource(commandLine, document), registry);
    const logFile = pipeline.service.log_file;
    logRoot.level = effectiveLogLevel(commandLine, pipeline.service.log_level);
    if (logFile !== null) logRoot.sink = fileSink(logFile);
    const logger = logRoot.scoped('');
    for (const warning of [...commandLine.warnings, ...(document?.warnings ?? []), ...pipeline.warnings]) logger.warn(warning);
    agent = new Agent(pipeline, { logRoot });
    if (commandLine.dryRun) {
      io.stdout('configuration test is successful\n');
      return 0;
    }
    logger.info(`[wsbit] version=${version}, pid=${process.pid}`);
    await agent.start();
  } catch (error) {
    return fail(error);
  }

  const logger = logRoot.scoped('engine');
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn(`caught signal (${signal}) again: exiting now`);
        resolve(1);
        return;
      }
      stopping = true;
      logger.info(`caught signal (${signal})`);
      agent
        .stop()
        .then(({ undeliveredRecords }) => {
          if (undeliveredRecords > 0) logger.error(`${undeliveredRecords} records were not delivered before Grace ran out`);
          logger.info('service has stopped');
          resolve(0);
        })
        .catch((error: unknown) => {
          logger.error(`error during shutdown: ${errorMessage(error)}`);
          resolve(1);
        })
        .finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
