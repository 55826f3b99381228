package pii

import "strings"

// urlKind returns URL for a web address that names someone (see
// personalURL) and Link for any other.
func urlKind(u string) Kind {
	if personalURL(u) {
		return URL
	}
	return Link
}

// personalURL reports whether the web address u names a person or an
// account: a profile page on a social or code-hosting site
// (linkedin.com/in/NAME, github.com/NAME, twitter.com/NAME,
// youtube.com/@NAME), a personal subdomain (NAME.github.io,
// NAME.substack.com) or a user name or password before the host
// (ftp://user:pass@host).
func personalURL(u string) bool {
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, path := strings.ToLower(rest[:end]), rest[end:]
	if strings.Contains(host, "@") {
		return true
	}
	host, _, _ = strings.Cut(host, ":")
	for _, p := range [...]string{"www.", "m.", "mobile.", "mbasic.", "web.", "uk.", "in.", "de.", "fr.", "es."} {
		host = strings.TrimPrefix(host, p)
	}
	if sub, site, ok := strings.Cut(host, "."); ok && personalSubdomainSites[site] && sub != "www" && sub != "" {
		return true
	}
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '?' || r == '#' })
	seg := func(i int) string {
		if i < len(segs) {
			return strings.ToLower(segs[i])
		}
		return ""
	}
	switch host {
	case "linkedin.com":
		switch seg(0) {
		case "in", "pub", "company", "school":
			return seg(1) != ""
		}
		return false
	case "youtube.com":
		if strings.HasPrefix(seg(0), "@") && len(seg(0)) > 1 {
			return true
		}
		switch seg(0) {
		case "c", "user", "channel":
			return seg(1) != ""
		}
		return false
	case "reddit.com":
		return (seg(0) == "u" || seg(0) == "user") && seg(1) != ""
	case "tiktok.com", "medium.com", "threads.net":
		return strings.HasPrefix(seg(0), "@") && len(seg(0)) > 1
	case "researchgate.net", "quora.com":
		return seg(0) == "profile" && seg(1) != ""
	case "stackoverflow.com":
		return seg(0) == "users" && seg(1) != ""
	case "angel.co", "wellfound.com":
		return seg(0) == "u" && seg(1) != ""
	case "orcid.org":
		return seg(0) != ""
	}
	if profileSites[host] {
		s := seg(0)
		return s != "" && !siteWords[strings.TrimPrefix(s, "@")] && !strings.Contains(s, ".")
	}
	return false
}

// Sites where the first path segment names an account, and words that
// name a page of the site instead.
var (
	profileSites = set("facebook.com", "fb.com", "instagram.com", "twitter.com", "x.com", "github.com",
		"gitlab.com", "bitbucket.org", "pinterest.com", "soundcloud.com", "twitch.tv", "behance.net",
		"dribbble.com", "kaggle.com", "linktr.ee", "about.me", "calendly.com", "t.me", "telegram.me",
		"wa.me", "vk.com", "snapchat.com", "patreon.com", "ko-fi.com", "buymeacoffee.com", "huggingface.co",
		"codepen.io", "replit.com", "leetcode.com", "npmjs.com", "flickr.com", "vimeo.com", "tumblr.com",
		"mastodon.social", "bsky.app")
	siteWords = set("home", "login", "signup", "join", "search", "explore", "about", "help", "settings",
		"features", "pricing", "docs", "blog", "share", "sharer", "sharer.php", "intent", "hashtag", "watch",
		"groups", "events", "pages", "marketplace", "topics", "trending", "i", "policies", "legal", "privacy",
		"terms", "orgs", "enterprise", "sponsors", "apps", "notifications", "messages", "status", "p", "reel",
		"reels", "stories", "tv", "explore", "discover", "download", "downloads", "site", "support", "jobs",
		"careers", "developers", "api", "en", "embed", "profile", "home.php", "photo.php", "story.php",
		"dialog", "plugins", "tr", "video", "videos", "channels", "categories", "collections",
		"datasets", "competitions", "models", "spaces", "learn", "problems", "package", "packages", "s")
	// personalSubdomainSites host one person's pages under a subdomain.
	personalSubdomainSites = set("github.io", "gitlab.io", "substack.com", "wordpress.com", "blogspot.com",
		"medium.com", "tumblr.com", "wixsite.com", "carrd.co", "bandcamp.com",
		"itch.io")
)
