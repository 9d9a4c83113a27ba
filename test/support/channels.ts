// Channel sets for tests that drive the send activity directly: the channels a test gives, and for every other channel
// of the registry one that refuses to be used (a send reaching it fails the test loudly).
import type { Channel, ChannelName } from '../../channels/channel.js';
import { CHANNEL_NAMES } from '../../engine/channels.js';

/** A channel a test does not use: any send through it rejects. */
export const unusedChannel = (name: ChannelName): Channel => ({ name, send: () => Promise.reject(new Error(`the ${name} channel is not used by this test`)) });

/** The given channels, and an unused one for each channel not given. */
export function channelsWith(given: Partial<Record<ChannelName, Channel>>): Record<ChannelName, Channel> {
  return Object.fromEntries(CHANNEL_NAMES.map((c) => [c, given[c] ?? unusedChannel(c)])) as Record<ChannelName, Channel>;
}

/** An unused channel for every channel of the registry but the ones named: overrides for `createDeps`, which builds
 * the named ones from the config. */
export function unusedChannelsBut(...used: ChannelName[]): Partial<Record<ChannelName, Channel>> {
  return Object.fromEntries(CHANNEL_NAMES.filter((c) => !used.includes(c)).map((c) => [c, unusedChannel(c)]));
}
