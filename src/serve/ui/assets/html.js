// htm bound to Preact: templates are tagged strings, and every value is inserted as text or as a
// property — never parsed as HTML — so a title holding <script> shows as those characters.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
