/** Reads the site file through the site module, so the console checks the box against the model the image was built from. */
import { loadSite } from '../site/load.js';
import type { Site } from '../site/model.js';

export async function loadSiteModel(file: string): Promise<Site> {
  return (await loadSite(file)).site;
}
