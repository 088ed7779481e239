import { describe, expect, it } from 'vitest';
import { IdMap, type Dataset } from '../data/types.ts';
import { LLMClient, ScriptedProvider } from '../llm/index.ts';
import type { ItemCatalogue } from '../llmrec/catalogue.ts';
import { ChatRecommender } from './chat.ts';

const REAL = ['Matrix, The (1999)', 'Toy Story (1995)', 'Heat (1995)', 'Fargo (1996)', 'Alien (1979)', 'Casablanca (1942)', 'Vertigo (1958)', 'Jaws (1975)', 'Psycho (1960)', 'Brazil (1985)'];
const OTHER = ['Gattaca (1997)', 'Contact (1997)', 'Twister (1996)', 'Clerks (1994)', 'Babe (1995)'];
const titles = [...REAL, ...OTHER];
const catalogue: ItemCatalogue = { n: titles.length, titles, genres: titles.map(() => ['Drama']), source: 'test' };
const dataset = {
  name: 'films',
  nUsers: 1,
  nItems: titles.length,
  offsets: Int32Array.of(0, 1),
  items: Int32Array.of(14),
  times: Float64Array.of(1),
  values: Float32Array.of(5),
  userIds: IdMap.fromRaw(['u1']),
  itemIds: IdMap.fromRaw(titles.map((_, i) => String(500 + i))),
  hasTime: true,
  fingerprint: 'x',
  provenance: { source: 'test', format: 'test', preparation: {} },
} as Dataset;
// As the model writes them: exact, without year, with the article moved, in other case.
const MENTIONED_REAL = ['The Matrix', 'Toy Story (1995)', 'heat', 'Fargo (1996)', 'Alien', 'Casablanca', 'Vertigo (1958)', 'JAWS', 'Psycho (1960)', 'Brazil'];
const INVENTED = ['Quantum Llama Rhapsody', 'The Seventh Moon of Zorblax', 'Grandmother Versus the Volcano', 'Xylophone Kingdom II', 'Midnight at the Pickle Factory', 'Whispering Asteroid Gardens', 'Captain Marmalade Returns', 'Penguins of the Lost Bazaar', 'Electric Spaghetti Dreams', 'Ninety-Nine Purple Umbrellas'];

describe('chat grounding', () => {
  it('keeps only catalogue items under a model mentioning 10 invented and 10 real titles; 10 hallucinations counted', async () => {
    const mentions = MENTIONED_REAL.flatMap((r, i) => [r, INVENTED[i]]);
    const provider = new ScriptedProvider('mixed', () => ({ reply: `You might enjoy ${mentions.join(', ')}.`, titles: mentions }));
    const chat = new ChatRecommender({ client: new LLMClient(provider), dataset, catalogue, history: dataset });
    const session = chat.newSession('s1', 'u1');
    const a = await chat.turn(session, 'Something for tonight?');
    expect(a.dropped.sort()).toEqual([...INVENTED].sort());
    expect(session.hallucinations).toBe(10);
    expect(a.items.map((x) => x.title)).toEqual(REAL);
    expect(a.items.map((x) => x.item_id)).toEqual(REAL.map((_, i) => String(500 + i)));
    for (const inv of INVENTED) expect(a.reply).not.toContain(inv);
    // Mapped mentions are written with the catalogue's titles.
    expect(a.reply).toContain('Matrix, The (1999)');
    expect(a.mapped).toBe(6);
    expect(a.reply).toBe(`You might enjoy ${REAL.join(', ')}.`);
    // The user's history reaches the prompt; the session keeps both turns.
    expect(provider.requests[0].messages.at(-1)!.content).toContain('Babe (1995) | 5');
    expect(session.turns.map((t) => t.role)).toEqual(['user', 'assistant']);
    expect(session.turns[1].dropped).toHaveLength(10);
  });

  it('a second turn carries the conversation; an unknown user is an error', async () => {
    const provider = new ScriptedProvider('one', () => ({ reply: 'Try Heat.', titles: ['Heat'] }));
    const chat = new ChatRecommender({ client: new LLMClient(provider), dataset, catalogue });
    const s = chat.newSession('s2');
    await chat.turn(s, 'crime films?');
    await chat.turn(s, 'another one');
    expect(provider.requests[1].messages.at(-1)!.content).toContain('User: crime films?\nYou: Try Heat (1995).');
    expect(() => chat.newSession('s3', 'nobody')).toThrow('no user with id "nobody"');
  });
});
