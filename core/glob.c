/* glob: '*'-only wildcard matching in O(len(pat) * len(s)) worst case,
 * without recursion: on a mismatch, retry from the last '*' one byte on. */
#include "glob.h"

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen)
{
	size_t p = 0, i = 0;
	size_t star = (size_t)-1, resume = 0;
	while (i < slen) {
		if (p < plen && pat[p] == '*') {
			star = p++;
			resume = i;
		} else if (p < plen && pat[p] == s[i]) {
			p++;
			i++;
		} else if (star != (size_t)-1) {
			p = star + 1;
			i = ++resume;
		} else {
			return false;
		}
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}
