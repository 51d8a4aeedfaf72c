import { RegistryError, type RegistryApi, type UsedBy } from '../../client/index.js';

/** Who includes the prompt as a partial; none from a registry older than partials (no such route). */
export async function usedByOrNone(api: RegistryApi, name: string): Promise<UsedBy[]> {
  try {
    return await api.usedBy(name);
  } catch (err) {
    if (err instanceof RegistryError && err.status === 404 && err.code !== 'prompt_not_found') return [];
    throw err;
  }
}
