export { ADDON_PATH, type AddonState, addonState, loadAddon, type OriginalDestination, originalDestination } from './original-dst.ts';
