// The flags that shape injection, shared by `weft inject` and `weft control-plane` (the
// webhook), so the same flags give the same pods whichever path injects them.

import type { InjectorConfig } from '@weft/control-plane/injector-config';
import { type Command, InvalidArgumentError } from 'commander';

export function addInjectorFlags(command: Command, defaults: InjectorConfig): Command {
  return command
    .option('--proxy-image <image>', 'image of the injected proxy (and of `weft init`)', defaults.proxyImage)
    .option('--image-pull-policy <policy>', 'Always, IfNotPresent or Never', parsePullPolicy, defaults.imagePullPolicy)
    .option(
      '--discovery-address <host:port>',
      'control plane address injected sidecars connect to',
      parseHostPort,
      defaults.discoveryAddress,
    );
}

export function injectorConfigFrom(
  opts: { proxyImage: string; imagePullPolicy: InjectorConfig['imagePullPolicy']; discoveryAddress: string },
  defaults: InjectorConfig,
): InjectorConfig {
  return { ...defaults, proxyImage: opts.proxyImage, imagePullPolicy: opts.imagePullPolicy, discoveryAddress: opts.discoveryAddress };
}

function parsePullPolicy(value: string): InjectorConfig['imagePullPolicy'] {
  if (value === 'Always' || value === 'IfNotPresent' || value === 'Never') return value;
  throw new InvalidArgumentError('must be Always, IfNotPresent or Never');
}

function parseHostPort(value: string): string {
  const match = /^[^\s:]+:(\d{1,5})$/.exec(value);
  if (!match || Number(match[1]) < 1 || Number(match[1]) > 65535) throw new InvalidArgumentError('must be host:port');
  return value;
}
