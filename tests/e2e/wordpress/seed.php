<?php
/**
 * Install and seed a test WordPress through WordPress's own PHP API.
 *
 * Run with php-cli, after the harness has written the Debian per-site config
 * (/etc/wordpress/config-<name>.php) and started MariaDB:
 *
 *     WORDPRESS_CONFIG=<name> HTTP_HOST=<host> php seed.php install <admin-password> <theme>
 *     WORDPRESS_CONFIG=<name> HTTP_HOST=<host> php seed.php content [<ffmpeg>]
 *     WORDPRESS_CONFIG=<name> HTTP_HOST=<host> php seed.php theme <theme>
 *     WORDPRESS_CONFIG=<name> HTTP_HOST=<host> php seed.php application-password <user> <name>
 *
 * Debian's wp-config.php picks the config file named by the WORDPRESS_CONFIG
 * server variable; php-cli exposes environment variables in $_SERVER, so the
 * same file serves the CLI here and php-fpm (where nginx passes it as a
 * FastCGI parameter).
 *
 * What it makes, all with fixed dates so that two runs produce the same pages:
 * - the site (wp_install), an administrator, pretty permalinks, the theme;
 * - source images drawn with GD (no photographs are available offline):
 *   JPEG gradients, one JPEG wider than 2560 px (WordPress then keeps a
 *   "-scaled" copy), a PNG with transparency, a GIF, a JPEG whose name has
 *   accents and spaces (WordPress sanitises it as an upload would be);
 *   a PDF written by hand and, when ffmpeg is given, a two-second H.264 MP4;
 * - attachments (wp_insert_attachment + wp_generate_attachment_metadata, so
 *   GD writes the real sub-sizes of the active theme and core);
 * - posts and a page whose block markup is what the 6.1 editor saves for the
 *   image, gallery, cover (image and fixed background), media-text, video and
 *   file blocks, one classic-editor post with [caption] and [gallery]
 *   shortcodes, and featured images.
 *
 * Installing and seeding are two runs because WordPress loads no theme code
 * while it installs (WP_INSTALLING), and the theme's image sizes must be
 * registered when the attachments' sub-sizes are made.
 *
 * "content" prints one JSON object on stdout: the ids and URLs of what it made.
 * "application-password" prints the new password (WP_Application_Passwords),
 * and fails where WordPress does not offer application passwords.
 * Limits: images are synthetic; GD (not Imagick) makes the sub-sizes, so PDFs
 * get no preview images, as on any GD-only host.
 */

if (PHP_SAPI !== 'cli') {
    exit(1);
}
[$unused, $stage, $arg1, $arg2] = array_pad($argv, 4, '');

if ($stage === 'install') {
    define('WP_INSTALLING', true);
}
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/image.php';
require_once ABSPATH . 'wp-admin/includes/file.php';
require_once ABSPATH . 'wp-admin/includes/media.php';

const RP_MONTH = '2024/03';

/** The notification e-mail wp_install sends has nowhere to go here. */
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password)
{
}

function rp_date(int $day, int $hour = 9): string
{
    return sprintf('2024-03-%02d %02d:00:00', $day, $hour);
}

/** A vertical gradient with a few shapes, so sub-sizes are visibly the same picture. */
function rp_draw_photo(int $w, int $h, array $top, array $bottom): GdImage
{
    $im = imagecreatetruecolor($w, $h);
    for ($y = 0; $y < $h; $y++) {
        $t = $y / max(1, $h - 1);
        $c = imagecolorallocate(
            $im,
            (int) ($top[0] + ($bottom[0] - $top[0]) * $t),
            (int) ($top[1] + ($bottom[1] - $top[1]) * $t),
            (int) ($top[2] + ($bottom[2] - $top[2]) * $t)
        );
        imageline($im, 0, $y, $w - 1, $y, $c);
    }
    $sun = imagecolorallocate($im, 250, 220, 120);
    imagefilledellipse($im, (int) ($w * 0.72), (int) ($h * 0.3), (int) ($h * 0.3), (int) ($h * 0.3), $sun);
    $hill = imagecolorallocate($im, 40, 90, 60);
    imagefilledpolygon($im, [0, $h, (int) ($w * 0.35), (int) ($h * 0.55), (int) ($w * 0.7), $h], $hill);
    $hill2 = imagecolorallocate($im, 30, 70, 50);
    imagefilledpolygon($im, [(int) ($w * 0.4), $h, (int) ($w * 0.8), (int) ($h * 0.6), $w, (int) ($h * 0.75), $w, $h], $hill2);
    return $im;
}

function rp_upload_path(string $name): string
{
    $dir = wp_upload_dir(RP_MONTH);
    $name = wp_unique_filename($dir['path'], sanitize_file_name($name));
    return $dir['path'] . '/' . $name;
}

function rp_make_sources(string $ffmpeg): array
{
    $files = [];

    $path = rp_upload_path('mountain-lake.jpg');
    imagejpeg(rp_draw_photo(1600, 1000, [90, 140, 210], [230, 200, 170]), $path, 70);
    $files['landscape'] = [$path, 'Mountain lake', 'A lake below green hills at dusk'];

    $path = rp_upload_path('tall-tree.jpg');
    imagejpeg(rp_draw_photo(1000, 1500, [20, 40, 90], [200, 120, 140]), $path, 70);
    $files['portrait'] = [$path, 'Tall tree', 'A portrait-format evening sky'];

    $path = rp_upload_path('Crème brûlée à la maison.jpg');
    imagejpeg(rp_draw_photo(1200, 1200, [240, 220, 180], [150, 90, 40]), $path, 70);
    $files['accents'] = [$path, 'Crème brûlée', 'A square, caramel-coloured picture'];

    // Wider than the 2560 px big_image_size_threshold: WordPress keeps the
    // original and makes "-scaled". A flat colour keeps the file a few KB.
    $path = rp_upload_path('wide-panorama.jpg');
    $im = imagecreatetruecolor(3200, 1600);
    imagefill($im, 0, 0, imagecolorallocate($im, 70, 120, 160));
    imagefilledrectangle($im, 0, 1100, 3199, 1599, imagecolorallocate($im, 60, 100, 70));
    imagejpeg($im, $path, 70);
    $files['panorama'] = [$path, 'Wide panorama', 'A very wide sky above a flat field'];

    $path = rp_upload_path('logo-mark.png');
    $im = imagecreatetruecolor(800, 600);
    imagealphablending($im, false);
    imagesavealpha($im, true);
    imagefill($im, 0, 0, imagecolorallocatealpha($im, 0, 0, 0, 127));
    imagealphablending($im, true);
    imagefilledellipse($im, 300, 300, 400, 400, imagecolorallocatealpha($im, 220, 60, 60, 20));
    imagefilledellipse($im, 500, 300, 400, 400, imagecolorallocatealpha($im, 60, 60, 220, 60));
    imagepng($im, $path, 9);
    $files['png'] = [$path, 'Logo mark', 'Two overlapping translucent circles'];

    $path = rp_upload_path('pixel-badge.gif');
    $im = imagecreate(400, 300);
    imagecolorallocate($im, 255, 255, 255);
    $ink = imagecolorallocate($im, 30, 120, 60);
    imagefilledrectangle($im, 40, 40, 360, 260, $ink);
    imagestring($im, 5, 150, 140, 'GIF 400x300', imagecolorallocate($im, 255, 255, 255));
    imagegif($im, $path);
    $files['gif'] = [$path, 'Pixel badge', 'A green badge'];

    $path = rp_upload_path('price-list.pdf');
    file_put_contents($path, rp_pdf('Price list'));
    $files['pdf'] = [$path, 'Price list', ''];

    if ($ffmpeg !== '') {
        $path = rp_upload_path('short-clip.mp4');
        $cmd = escapeshellarg($ffmpeg) . ' -nostdin -v error -y -f lavfi -i testsrc=size=320x180:rate=12'
            . ' -t 2 -c:v libx264 -pix_fmt yuv420p -movflags +faststart ' . escapeshellarg($path);
        exec($cmd, $out, $rc);
        if ($rc !== 0) {
            fwrite(STDERR, "seed.php: ffmpeg failed ($rc)\n");
            exit(1);
        }
        $files['video'] = [$path, 'Short clip', ''];
    }
    return $files;
}

/** A one-page PDF with a line of text; offsets in the xref table are computed, not guessed. */
function rp_pdf(string $text): string
{
    $stream = "BT /F1 24 Tf 72 720 Td ($text) Tj ET";
    $objects = [
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
        '<< /Length ' . strlen($stream) . " >>\nstream\n$stream\nendstream",
        '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ];
    $pdf = "%PDF-1.4\n";
    $offsets = [];
    foreach ($objects as $i => $body) {
        $offsets[] = strlen($pdf);
        $pdf .= ($i + 1) . " 0 obj\n$body\nendobj\n";
    }
    $xref = strlen($pdf);
    $pdf .= 'xref' . "\n0 " . (count($objects) + 1) . "\n0000000000 65535 f \n";
    foreach ($offsets as $offset) {
        $pdf .= sprintf("%010d 00000 n \n", $offset);
    }
    $pdf .= 'trailer << /Size ' . (count($objects) + 1) . " /Root 1 0 R >>\nstartxref\n$xref\n%%EOF\n";
    return $pdf;
}

function rp_attach(string $path, string $title, string $alt, int $day): int
{
    $type = wp_check_filetype(basename($path));
    $id = wp_insert_attachment([
        'post_mime_type' => $type['type'],
        'post_title' => $title,
        'post_content' => '',
        'post_excerpt' => $alt !== '' ? "Caption: $title" : '',
        'post_status' => 'inherit',
        'post_date' => rp_date($day),
        'guid' => wp_upload_dir(RP_MONTH)['url'] . '/' . basename($path),
    ], $path, 0, true);
    if (is_wp_error($id)) {
        fwrite(STDERR, 'seed.php: ' . $id->get_error_message() . "\n");
        exit(1);
    }
    if ($alt !== '') {
        update_post_meta($id, '_wp_attachment_image_alt', $alt);
    }
    wp_update_attachment_metadata($id, wp_generate_attachment_metadata($id, $path));
    return $id;
}

function rp_src(int $id, string $size): string
{
    return wp_get_attachment_image_url($id, $size);
}

/** The image block as the 6.1 editor saves it. */
function rp_image_block(int $id, string $size, string $caption = '', string $link = 'none'): string
{
    $src = esc_url(rp_src($id, $size));
    $alt = esc_attr(get_post_meta($id, '_wp_attachment_image_alt', true));
    $img = "<img src=\"$src\" alt=\"$alt\" class=\"wp-image-$id\"/>";
    $attrs = ['id' => $id, 'sizeSlug' => $size, 'linkDestination' => $link];
    if ($link === 'media') {
        $img = '<a href="' . esc_url(wp_get_attachment_url($id)) . "\">$img</a>";
    }
    $cap = $caption !== '' ? "<figcaption class=\"wp-element-caption\">$caption</figcaption>" : '';
    return '<!-- wp:image ' . wp_json_encode($attrs) . " -->\n"
        . "<figure class=\"wp-block-image size-$size\">$img$cap</figure>\n<!-- /wp:image -->";
}

function rp_gallery_block(array $ids): string
{
    $inner = implode("\n\n", array_map(fn ($id) => rp_image_block($id, 'large'), $ids));
    return "<!-- wp:gallery {\"linkTo\":\"none\"} -->\n"
        . "<figure class=\"wp-block-gallery has-nested-images columns-default is-cropped\">$inner</figure>\n"
        . '<!-- /wp:gallery -->';
}

function rp_paragraph(string $text): string
{
    return "<!-- wp:paragraph -->\n<p>$text</p>\n<!-- /wp:paragraph -->";
}

function rp_cover_block(int $id, string $title, bool $fixed = false): string
{
    $url = esc_url(wp_get_attachment_url($id));
    $inner = '<div class="wp-block-cover__inner-container">'
        . "<!-- wp:paragraph {\"align\":\"center\",\"placeholder\":\"Write title…\",\"fontSize\":\"large\"} -->\n"
        . "<p class=\"has-text-align-center has-large-font-size\">$title</p>\n<!-- /wp:paragraph --></div>";
    $dim = '<span aria-hidden="true" class="wp-block-cover__background has-background-dim"></span>';
    if ($fixed) {
        // A fixed background is drawn with CSS, so the URL sits in a style attribute.
        return "<!-- wp:cover {\"url\":\"$url\",\"id\":$id,\"hasParallax\":true,\"dimRatio\":50} -->\n"
            . "<div class=\"wp-block-cover has-parallax\" style=\"background-image:url($url)\">$dim$inner</div>\n"
            . '<!-- /wp:cover -->';
    }
    return "<!-- wp:cover {\"url\":\"$url\",\"id\":$id,\"dimRatio\":50} -->\n"
        . "<div class=\"wp-block-cover\">$dim<img class=\"wp-block-cover__image-background wp-image-$id\" alt=\"\""
        . " src=\"$url\" data-object-fit=\"cover\"/>$inner</div>\n<!-- /wp:cover -->";
}

function rp_media_text_block(int $id, string $text): string
{
    $url = esc_url(wp_get_attachment_url($id));
    $link = esc_url(get_attachment_link($id));
    return "<!-- wp:media-text {\"mediaId\":$id,\"mediaLink\":\"$link\",\"mediaType\":\"image\"} -->\n"
        . '<div class="wp-block-media-text alignwide is-stacked-on-mobile"><figure class="wp-block-media-text__media">'
        . "<img src=\"$url\" alt=\"\" class=\"wp-image-$id size-full\"/></figure>"
        . '<div class="wp-block-media-text__content">'
        . "<!-- wp:paragraph {\"placeholder\":\"Content…\"} -->\n<p>$text</p>\n<!-- /wp:paragraph --></div></div>\n"
        . '<!-- /wp:media-text -->';
}

function rp_video_block(int $id, int $poster): string
{
    $src = esc_url(wp_get_attachment_url($id));
    $poster_url = esc_url(rp_src($poster, 'large'));
    return "<!-- wp:video {\"id\":$id} -->\n"
        . "<figure class=\"wp-block-video\"><video controls poster=\"$poster_url\" src=\"$src\"></video>"
        . "<figcaption class=\"wp-element-caption\">A two-second test pattern</figcaption></figure>\n<!-- /wp:video -->";
}

function rp_file_block(int $id): string
{
    $href = esc_url(wp_get_attachment_url($id));
    $anchor = "wp-block-file--media-00000000-0000-4000-8000-0000000000$id";
    return "<!-- wp:file {\"id\":$id,\"href\":\"$href\",\"displayPreview\":true} -->\n"
        . "<div class=\"wp-block-file\"><object class=\"wp-block-file__embed\" data=\"$href\" type=\"application/pdf\""
        . ' style="width:100%;height:600px" aria-label="Embed of Price list."></object>'
        . "<a id=\"$anchor\" href=\"$href\">Price list</a>"
        . "<a href=\"$href\" class=\"wp-block-file__button\" download aria-describedby=\"$anchor\">Download</a></div>\n"
        . '<!-- /wp:file -->';
}

function rp_classic_content(int $id, array $gallery): string
{
    [$src, $w, $h] = wp_get_attachment_image_src($id, 'medium');
    $full = wp_get_attachment_url($id);
    $alt = esc_attr(get_post_meta($id, '_wp_attachment_image_alt', true));
    return "[caption id=\"attachment_$id\" align=\"alignnone\" width=\"$w\"]<a href=\"$full\">"
        . "<img class=\"size-medium wp-image-$id\" src=\"$src\" alt=\"$alt\" width=\"$w\" height=\"$h\" /></a>"
        . " Written in the classic editor[/caption]\n\n"
        . "Older posts keep HTML and shortcodes rather than blocks.\n\n"
        . '[gallery ids="' . implode(',', $gallery) . '" size="medium" link="file"]';
}

function rp_post(string $type, string $slug, string $title, string $content, int $day, int $thumb = 0): int
{
    $id = wp_insert_post([
        'post_type' => $type,
        'post_name' => $slug,
        'post_title' => $title,
        'post_content' => $content,
        'post_status' => 'publish',
        'post_author' => 1,
        'post_date' => rp_date($day, 10),
        'post_date_gmt' => rp_date($day, 10),
        'comment_status' => 'closed',
    ], true);
    if (is_wp_error($id)) {
        fwrite(STDERR, 'seed.php: ' . $id->get_error_message() . "\n");
        exit(1);
    }
    if ($thumb) {
        set_post_thumbnail($id, $thumb);
    }
    return $id;
}

function rp_switch_theme(string $theme): void
{
    if (!wp_get_theme($theme)->exists()) {
        fwrite(STDERR, "seed.php: no theme $theme\n");
        exit(1);
    }
    switch_theme($theme);
}

function rp_install(string $admin_password, string $theme): void
{
    wp_install('Rewriteproxy Test Site', 'admin', 'admin@example.org', true, '', wp_slash($admin_password));
    // The sample content wp_install adds carries today's date; fixed content only.
    $sample = get_posts(['post_type' => ['post', 'page'], 'post_status' => 'any', 'numberposts' => -1]);
    foreach ($sample as $p) {
        wp_delete_post($p->ID, true);
    }
    update_option('blogdescription', 'Real WordPress markup for the proxy tests');
    update_option('posts_per_page', 10);
    global $wp_rewrite;
    $wp_rewrite->set_permalink_structure('/%postname%/');
    rp_switch_theme($theme);
}

function rp_content(string $ffmpeg): array
{
    $sources = rp_make_sources($ffmpeg);
    $ids = [];
    $day = 1;
    foreach ($sources as $key => [$path, $title, $alt]) {
        $ids[$key] = rp_attach($path, $title, $alt, $day++);
    }

    $posts = [];
    $posts['image-block'] = rp_post('post', 'image-block', 'An image block', implode("\n\n", [
        rp_paragraph('One image at the large size, with a caption, linked to the full file.'),
        rp_image_block($ids['landscape'], 'large', 'The lake at dusk', 'media'),
        rp_paragraph('A PNG with transparency at its full size:'),
        rp_image_block($ids['png'], 'full'),
        rp_paragraph('A very wide picture at its full size, which WordPress serves as its -scaled copy:'),
        rp_image_block($ids['panorama'], 'full'),
    ]), 2, $ids['landscape']);
    $posts['gallery'] = rp_post('post', 'gallery', 'A gallery', implode("\n\n", [
        rp_paragraph('Four images in a gallery block.'),
        rp_gallery_block([$ids['landscape'], $ids['portrait'], $ids['accents'], $ids['gif']]),
    ]), 3, $ids['portrait']);
    $posts['cover'] = rp_post('post', 'cover', 'Cover blocks', implode("\n\n", [
        rp_cover_block($ids['landscape'], 'A cover with an image element'),
        rp_cover_block($ids['portrait'], 'A cover with a fixed background', true),
    ]), 4, $ids['accents']);
    $posts['media-text'] = rp_post('post', 'media-text', 'Media and text', implode("\n\n", [
        rp_media_text_block($ids['accents'], 'An image beside its text; its file name had accents and spaces.'),
    ]), 5);
    if (isset($ids['video'])) {
        $video = rp_video_block($ids['video'], $ids['landscape']);
    } else {
        $video = rp_paragraph('(no video: ffmpeg was not available when this site was seeded)');
    }
    $posts['video-and-file'] = rp_post('post', 'video-and-file', 'A video and a file', implode("\n\n", [
        $video,
        rp_file_block($ids['pdf']),
    ]), 6, $ids['gif']);
    $posts['classic'] = rp_post('post', 'classic', 'A classic-editor post', rp_classic_content(
        $ids['portrait'],
        [$ids['landscape'], $ids['png'], $ids['panorama']]
    ), 7, $ids['panorama']);
    $posts['everything'] = rp_post('post', 'everything', 'Everything at once', implode("\n\n", [
        rp_cover_block($ids['panorama'], 'Image, gallery and cover in one post'),
        rp_image_block($ids['landscape'], 'large', 'An image block'),
        rp_gallery_block([$ids['portrait'], $ids['accents'], $ids['png']]),
        rp_media_text_block($ids['gif'], 'A GIF beside some text.'),
    ]), 8, $ids['landscape']);
    $posts['about'] = rp_post('page', 'about', 'About this site', implode("\n\n", [
        rp_paragraph('A page, not a post: it has no date and is listed in the page sitemap.'),
        rp_image_block($ids['portrait'], 'medium', 'A medium-size image on a page'),
        rp_media_text_block($ids['landscape'], 'Pages take the same blocks as posts.'),
    ]), 9, $ids['png']);

    $out = [
        'theme' => get_stylesheet(),
        'uploads' => wp_upload_dir(RP_MONTH),
        'attachments' => [],
        'posts' => [],
    ];
    foreach ($ids as $key => $id) {
        $out['attachments'][$key] = [
            'id' => $id,
            'url' => wp_get_attachment_url($id),
            'file' => get_attached_file($id),
            'metadata' => wp_get_attachment_metadata($id),
        ];
    }
    foreach ($posts as $key => $id) {
        $out['posts'][$key] = ['id' => $id, 'type' => get_post_type($id), 'url' => get_permalink($id)];
    }
    return $out;
}

/** A new application password for the user, as the profile screen would make it. */
function rp_application_password(string $login, string $name): string
{
    $user = get_user_by('login', $login);
    if (!$user) {
        fwrite(STDERR, "seed.php: no user $login\n");
        exit(1);
    }
    if (!wp_is_application_passwords_available_for_user($user)) {
        fwrite(STDERR, "seed.php: application passwords are not available (https or WP_ENVIRONMENT_TYPE local)\n");
        exit(1);
    }
    $made = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => $name]);
    if (is_wp_error($made)) {
        fwrite(STDERR, 'seed.php: ' . $made->get_error_message() . "\n");
        exit(1);
    }
    return $made[0];
}

if ($stage === 'install') {
    rp_install($arg1, $arg2);
} elseif ($stage === 'content') {
    echo wp_json_encode(rp_content($arg1), JSON_UNESCAPED_SLASHES), "\n";
} elseif ($stage === 'theme') {
    rp_switch_theme($arg1);
} elseif ($stage === 'application-password') {
    echo rp_application_password($arg1, $arg2);
} else {
    fwrite(STDERR, "usage: seed.php install <password> <theme> | content [<ffmpeg>] | theme <theme>"
        . " | application-password <user> <name>\n");
    exit(2);
}
