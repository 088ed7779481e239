/**
 * LLM-written user profiles: a short description of a user's tastes generated from their history
 * (titles, genres, ratings). They are the judge's persona in the Recommendation Arena and the
 * extra context of profile-augmented ranking (the "profile-involved" probe of Beyond Utility).
 */
import { z } from 'zod';
import type { LLMClient, PromptTemplate } from '../llm/index.ts';
import { loadPrompt, renderPrompt } from '../llm/index.ts';
import { formatHistory, type HistoryEntry } from './history.ts';

/** The structured profile the LLM returns. */
export const ProfileReply = z.object({
  profile: z.string().min(1),
  liked_genres: z.array(z.string()),
  avoided_genres: z.array(z.string()),
});
export type ProfileReply = z.infer<typeof ProfileReply>;

/** A generated profile with its provenance. */
export interface UserProfile extends ProfileReply {
  user: number;
  label: string;
  /** Template id, e.g. `profile@1`. */
  template: string;
  /** Number of history events shown. */
  historyLength: number;
  /** Request hash of the call (cache key), empty when generation failed. */
  hash: string;
  /** Error when the reply stayed invalid; then `profile` is a fallback listing genres. */
  error?: string;
}

/** What `meta` carries to scripted profilers. */
export interface ProfileMeta {
  kind: 'profile';
  history: readonly HistoryEntry[];
}

/** Options of {@link generateProfile}. */
export interface ProfileOptions {
  domain?: string;
  /** Word budget for the profile text (default 80). */
  maxWords?: number;
  template?: PromptTemplate;
}

/** The genres of a history by frequency (ties alphabetical) — used for fallbacks and scripted profilers. */
export function topGenres(history: readonly HistoryEntry[], n = 5): string[] {
  const counts = new Map<string, number>();
  for (const h of history) for (const g of h.genres) counts.set(g, (counts.get(g) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n).map(([g]) => g);
}

/**
 * Asks the LLM for user `user`'s profile. A reply that stays invalid after the repair retry does
 * not abort a batch: the profile falls back to the user's top genres and `error` says why.
 */
export async function generateProfile(client: LLMClient, user: number, label: string, history: readonly HistoryEntry[], options: ProfileOptions = {}): Promise<UserProfile> {
  const template = options.template ?? loadPrompt('profile');
  const messages = renderPrompt(template, { domain: options.domain ?? 'movies', history: formatHistory(history), max_words: options.maxWords ?? 80 });
  const meta: ProfileMeta = { kind: 'profile', history };
  const r = await client.tryJson({ messages, tag: template.id, meta: meta as unknown as Record<string, unknown>, maxTokens: 400 }, ProfileReply, 'user_profile');
  const base = { user, label, template: template.id, historyLength: history.length };
  if (r.ok) return { ...base, ...r.value, hash: r.result.hash };
  const liked = topGenres(history, 3);
  return { ...base, profile: `Watches mostly ${liked.join(', ') || 'various genres'}.`, liked_genres: liked, avoided_genres: [], hash: '', error: r.error };
}
